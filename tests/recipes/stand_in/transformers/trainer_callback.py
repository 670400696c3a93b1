class TrainerCallback:
    """transformers.trainer_callback.TrainerCallback's shape: every hook a no-op."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass
