"""Hardware cost side of edgenas: MACs/params, targets, latency tables and cost models."""
