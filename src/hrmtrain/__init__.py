"""hrmtrain: train, adapt, evaluate and ship the models of an HRM household assistant."""

__version__ = "0.1.0"
