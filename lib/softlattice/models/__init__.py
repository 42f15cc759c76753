"""Reference methods and machine-learned models: NEP training, active learning, fine-tuning, the band-gap GNN."""
