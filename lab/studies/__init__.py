"""The studies: what each trains (arms), its texts, its checks and its answers."""
