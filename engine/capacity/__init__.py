"""Capacity planning: measure the engine on this machine, size a platform for a workload,
write the report (`tracecode capacity`). bench/ builds on the same measurements."""
