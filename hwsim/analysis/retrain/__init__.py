"""Retraining in NumPy for small chain models: masked retraining, centroid fine-tuning, straight-through
estimators for binary / ternary / integer weights, fine-tuning of factorized layers and distillation
into students. See ``hwsim.analysis.retrain.methods`` for how a compression method is retrained."""
