"""Reports: HTML (Jinja2 + inline matplotlib SVG), one self-contained file per run."""
