"""The run report's ground floor: `html` (page head, tables, figures, formatters) and `page` (a page built
from the sections handed to it). Nothing here imports a stage; each stage writes its own section
(`<stage>/report_section.py`) and the entry (`hrmtrain.run_report`) hands them in, in order."""
