"""Sensor-failure detection: per-cell statistics, the detector, and the Autoware-style baseline."""
