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


def file_error_message(exc: OSError) -> str | None:
    """One line for an OS error on a named file (a read-only output folder, a full disk, a missing file),
    or None where the error names no file (then it is a bug, and the traceback is kept)."""
    if not getattr(exc, "filename", None):
        return None
    action = "cannot write" if exc.errno in (1, 13, 28, 30, 122) else "cannot use"  # EPERM EACCES ENOSPC EROFS EDQUOT
    return f"{action} {exc.filename}: {exc.strerror or exc}"


def user_message(exc: BaseException) -> str | None:
    """The one-line message for an error a user can fix (HrmError, or an OS error on a named file), or None
    for a bug, whose traceback is kept."""
    if isinstance(exc, HrmError):
        return str(exc)
    if isinstance(exc, OSError):
        return file_error_message(exc)
    return None
