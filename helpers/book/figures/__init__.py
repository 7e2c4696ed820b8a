"""The book's figures, drawn by code: one module a topic, named like the chapters.

``style`` (colours and the book's matplotlib style), ``counting`` (chapter 1),
``convolution`` and ``animation`` (chapters 2-3), ``separable`` (4-5), ``cost``
(6), ``overfitting`` (7), ``architectures`` (8), ``lowrank`` (9). Import from the
module itself, e.g. ``from helpers.book.figures.style import use_book_style``; this
package imports nothing, so a module can be added without touching it.
"""
