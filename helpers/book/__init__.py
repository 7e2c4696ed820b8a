"""The book's machinery: ``figures`` (one module a topic), ``checks`` (the
exercise checkers) and ``glue`` (numbers from code into the prose)."""
