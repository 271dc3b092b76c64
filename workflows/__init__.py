"""Workflow definitions (YAML) and notice templates (Jinja) that administrators edit."""

from pathlib import Path

DEFAULT_WORKFLOW = Path(__file__).with_name("backward_orgs.yaml")
