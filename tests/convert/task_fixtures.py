"""Stored task lists the task-edit tests share: fixtures and the patterns that pick ids and tasks out of them."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
SERVER = (FIXTURES / "20_task_list.xml").read_text()
CLOUD = (FIXTURES / "41_cloud_task_lists.xml").read_text()
SERVER_NESTED = (FIXTURES / "42_server_nested_tasks.xml").read_text()
CLOUD_NESTED = (FIXTURES / "43_cloud_nested_tasks.xml").read_text()
TASK_ID = re.compile(r"<ac:task-id>(\d+)</ac:task-id>")
TASK = re.compile(r"<ac:task>.*?</ac:task>", re.DOTALL)
