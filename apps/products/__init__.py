"""The products relying app: the catalogue and its stock."""
