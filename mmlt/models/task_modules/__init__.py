"""Assigners and other training-time helpers."""
from .sim_ota_assigner import (  # noqa: F401
    MemoryEfficientSimOTAAssigner, simota_class_cost)
