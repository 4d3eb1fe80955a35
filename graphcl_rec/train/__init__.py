"""Training loop, early stopping, checkpoints and seeding."""

from graphcl_rec.train.allocator import hold_freed_memory
from graphcl_rec.train.checkpoint import load_checkpoint, save_checkpoint
from graphcl_rec.train.diagnostics import TrainingWarning
from graphcl_rec.train.early_stopping import EarlyStopping
from graphcl_rec.train.history import History
from graphcl_rec.train.seed import resolve_device, seed_everything
from graphcl_rec.train.trainer import Trainer

__all__ = [
    "EarlyStopping",
    "History",
    "Trainer",
    "TrainingWarning",
    "hold_freed_memory",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
]
