"""Walk-forward evaluation and forecast accuracy metrics."""
