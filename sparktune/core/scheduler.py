"""The schedulers' former home, kept so existing imports work (see ``core.schedulers``)."""

from sparktune.core.schedulers import ASHA, ROWS, Hyperband, Scheduler

__all__ = ["ASHA", "ROWS", "Hyperband", "Scheduler"]
