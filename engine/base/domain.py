"""The source document's vocabulary: problem categories (主要问题) and key-target flags."""

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
