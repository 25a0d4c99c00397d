"""Evaluation of trained CLIP models as DataComp evaluates them (its 38 averaged tasks, clip_benchmark's
WebDataset layout, its results file and aggregates), plus the science retrieval split held out of training."""
