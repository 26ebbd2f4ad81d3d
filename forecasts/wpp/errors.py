"""The one error a WPP file or source can cause."""


class WppFormatError(ValueError):
    """The file is not a WPP file this reader accepts; the message names the line and column."""

    def __init__(self, message, *, line=None, column=None):
        self.line = line
        self.column = column
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
