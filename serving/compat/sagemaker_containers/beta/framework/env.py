"""Only what inference scripts read: the model directory and the serving settings."""

from serving.settings import DEFAULT_MODEL_DIR

model_dir = DEFAULT_MODEL_DIR


class ServingEnv:
    def __init__(self):
        from serving.settings import Settings

        s = Settings.from_env()
        self.model_dir = s.model_dir
        self.default_accept = s.default_accept or "application/json"
        self.model_server_workers = s.workers
        self.model_server_timeout = s.timeout
        self.http_port = str(s.port)

