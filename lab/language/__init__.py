"""The text the networks learn: the alphabet, the grammar and its exact entropy floor, and
the train and held-out streams."""
