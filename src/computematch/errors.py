"""The failures a user can fix: each is one line that names its culprit; the CLI prints it and exits 2."""


class UserError(Exception):
    """Base class: never a traceback, always a message that says what to change."""


class ConfigError(UserError, ValueError):
    """A bad value in params.yaml (or a bad argument naming an item of it)."""


class MissingInputError(UserError):
    """An input file a stage reads does not exist yet (run the stage that writes it)."""


class BadInputError(UserError, ValueError):
    """An input file exists but its content is unusable (a malformed samples file, say)."""


class TrackingError(UserError):
    """The MLflow tracking store cannot be reached."""
