"""The kinds of organization the store knows, and their Chinese labels.

The campaign's own words — its problem categories (主要问题) and the circumstances that make a
case a key target — are the workflow's: ``problem_categories`` and ``key_target_circumstances``
in its YAML (engine.spec.definition).
"""

from __future__ import annotations

# The kinds of organization (Organization.kind) and their Chinese labels. A county (县) and a
# township (乡镇/街道) lead the grassroots ones: they are never cases, nor counted in the quota.
ORG_KIND_LABELS: dict[str, str] = {
    "county": "县", "township": "乡镇（街道）", "village": "村", "community": "社区", "enterprise": "企业",
    "school": "学校", "institution": "机关事业单位", "other": "其他",
}
LEADING_KINDS: tuple[str, ...] = ("county", "township")
GRASSROOTS_KINDS: tuple[str, ...] = tuple(k for k in ORG_KIND_LABELS if k not in LEADING_KINDS)
