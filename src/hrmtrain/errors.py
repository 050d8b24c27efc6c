"""Errors a user can fix. The CLI prints them as one clear message (no traceback) and exits 2."""


class HrmError(Exception):
    """Base of every user-facing error."""


class DataError(HrmError):
    """Bad training data; the message names the file and, where there is one, the row."""

    def __init__(self, path, problem: str, row: int | None = None):
        where = f"{path}" if row is None else f"{path}, row {row}"
        super().__init__(f"{where}: {problem}")
        self.path, self.row, self.problem = str(path), row, problem


class ModelNotFoundError(HrmError):
    """`model.base` is neither a local folder, a cached hub model, nor reachable on a hub."""


class CheckpointError(HrmError):
    """A checkpoint that cannot be resumed from (missing, corrupt, or from another config)."""
