"""What the process reports of itself: Prometheus metrics, the tallies behind them, the event
loop's lag."""
