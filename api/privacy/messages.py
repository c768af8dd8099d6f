"""Message kinds of the privacy domain."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="deletion_blocked",
        description="A resident asked to delete their account, but an elder would be left with no family contact",
        title="注销受阻：{elder_name}将无家属联系人",
        body="一位居民申请注销账号，但其是{elder_name}唯一的家属联系人。请联系老人或其家属，安排新的联系人。",
        page="pages/admin/elders/detail?id={elder_id}",
        subscribe=Template(
            "linli-sub-deletion-blocked", {"thing1": "{elder_name}", "thing2": "需安排新的家属联系人", "time3": "{at}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="data_export_ready",
        description="The export of a person's data is ready to download (for a few days)",
        title="您的个人数据导出已完成",
        body="您申请的个人数据导出已生成，可在 {days} 天内下载。",
        page="pages/me/privacy?export_id={export_id}",
        subscribe=Template("linli-sub-data-export", {"thing1": "个人数据导出", "time2": "{ready_at}"}),
        channels=(Channel.SUBSCRIBE,),
    ),
)
