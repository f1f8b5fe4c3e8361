//! Mail-cluster models (placeholder until the models issue).
