"""The source document's vocabulary: problem categories (主要问题), key-target flags, organization kinds."""

from __future__ import annotations

PROBLEM_CATEGORIES: dict[int, str] = {
    1: "班子配备不齐、书记缺职、工作停滞",
    2: "书记不胜任现职、工作不在状态",
    3: "班子不团结、内耗严重",
    4: "组织制度形同虚设、不开展活动",
}

# Any of these makes a case a key target (重点整顿对象).
KEY_TARGET_FLAGS: dict[str, str] = {
    "canvassing": "换届选举拉票贿选问题突出",
    "interference": "“三宗”和黑恶势力干扰渗透严重",
    "disclosure": "村务居务财务公开和民主管理混乱",
    "petitions": "社会治安问题和信访矛盾纠纷集中",
}

# The kinds of organization (Organization.kind) and their Chinese labels. A county (县) and a
# township (乡镇/街道) lead the grassroots ones: they are never cases, nor counted in the quota.
ORG_KIND_LABELS: dict[str, str] = {
    "county": "县", "township": "乡镇（街道）", "village": "村", "community": "社区", "enterprise": "企业",
    "school": "学校", "institution": "机关事业单位", "other": "其他",
}
LEADING_KINDS: tuple[str, ...] = ("county", "township")
GRASSROOTS_KINDS: tuple[str, ...] = tuple(k for k in ORG_KIND_LABELS if k not in LEADING_KINDS)
