"""Numbers about a model: what each means is in docs/evaluation.md.

- registry.py: every metric as one table entry (`METRICS`): its name, what it needs, how it is shown.
- codes.py: does each code mean one thing? accuracy, NMI, Q's information on real images, code effects.
- disentanglement.py: MIG and FactorVAE on data with known factors.
- image_quality.py: FID / KID / IS through torch-fidelity.
- classifier.py: an independent digit classifier that judges generated images.
- evaluate.py: `infogan evaluate`, a run's whole report.
"""
