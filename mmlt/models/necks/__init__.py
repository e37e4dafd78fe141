from .pfc import PFC

__all__ = ['PFC']
