// Users and keys (administrators).
"use strict";

import { $, act, api, el, fillRows, showError, toast, when } from "./core.js";

const adminPage = {
  async refresh() {
    const [{ users }, { keys }] = await Promise.all([api("/users"), api("/keys")]);
    fillRows($("#users-table tbody"), users.map((u) => el("tr", {},
      el("th", { scope: "row" }, u.name), el("td", {}, u.admin ? "yes" : "no"), el("td", {}, when(u.created_at)))),
    "No users.", 3);
    fillRows($("#keys-table tbody"), keys.map((k) => el("tr", { "data-key": k.id },
      el("td", {}, el("code", {}, k.id)), el("td", {}, k.user), el("td", {}, k.name),
      el("td", {}, when(k.created_at)), el("td", {}, when(k.last_used_at)), el("td", {}, when(k.revoked_at)),
      el("td", {}, k.revoked_at ? "" : el("button", {
        type: "button", class: "danger", "aria-label": `Revoke key ${k.id}`,
        onclick: () => act(`Revoke key ${k.id} of ${k.user}? Its holder is signed out at once.`, "Revoke key",
          () => api(`/keys/${encodeURIComponent(k.id)}`, { method: "DELETE" }),
          async () => { toast(`Key ${k.id} revoked`); await adminPage.refresh(); }),
      }, "Revoke")))), "No keys.", 7);
    const select = $("#add-key").elements.user;
    const chosen = select.value;
    select.replaceChildren(...users.map((u) => el("option", { value: u.name }, u.name)));
    if (chosen) select.value = chosen;
  },
  bind() {
    $("#add-user").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const body = { name: form.elements.name.value.trim(), admin: form.elements.admin.checked };
      act(`Create user ${body.name}${body.admin ? " as an administrator" : ""}?`, "Create user",
        () => api("/users", { method: "POST", body }),
        async () => { form.reset(); toast(`User ${body.name} created`); await adminPage.refresh(); }, false);
    });
    $("#add-key").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const body = { user: form.elements.user.value, name: form.elements.name.value.trim() };
      act(`Create a key for ${body.user}?`, "Create key",
        () => api("/keys", { method: "POST", body }),
        async (created) => {
          $("#new-key-value").textContent = created.key;
          $("#new-key").hidden = false;
          form.elements.name.value = "";
          await adminPage.refresh();
        }, false);
    });
  },
  start() {
    if (document.body.dataset.admin !== "true" || document.body.dataset.open === "true") {
      $("#admin").hidden = true;
      const open = document.body.dataset.open === "true";
      $(open ? "#admin-open-note" : "#admin-only-note").hidden = false;
      return;
    }
    adminPage.bind();
    adminPage.refresh().catch(showError);
  },
};

export default adminPage;
