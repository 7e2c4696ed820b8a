"""The lab: data, the small CNN, training and statistics, the timing harness,
the roofline, dispatch logs, memory and the papers' tables. Imports only
``helpers.core``."""
