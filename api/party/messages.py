"""Message kinds of the party domain (see `api.notifications.catalogue`). Membership is sensitive: a message
says what happened and where to look in the mini-program, not a member's details."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="party_meeting_scheduled",
        description="A member is on the roster of a party meeting",
        title="会议通知：{topic}",
        body="{org_name}将于{starts_at_text}在{place}召开{kind_name}：{topic}。不能参加请在会前请假。",
        page="pages/party/meeting?id={meeting_id}",
        subscribe=Template(
            "linli-sub-party-meeting",
            {"thing1": "{topic}", "time2": "{starts_at}", "thing3": "{place}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_meeting_cancelled",
        description="A party meeting a member was on the roster of was cancelled",
        title="会议取消：{topic}",
        body="原定{starts_at_text}的{kind_name}「{topic}」已取消。{reason}",
        page="pages/party/meeting?id={meeting_id}",
        subscribe=Template(
            "linli-sub-party-meeting-cancelled",
            {"thing1": "{topic}", "time2": "{starts_at}", "thing3": "{reason}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_leave_decided",
        description="The organiser decided a member's leave request for a meeting",
        title="请假{result}：{topic}",
        body="您对{starts_at_text}「{topic}」的请假申请{result}。{note}",
        page="pages/party/meeting?id={meeting_id}",
        subscribe=Template(
            "linli-sub-party-leave",
            {"thing1": "{topic}", "phrase2": "{result}", "thing3": "{note}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_minutes_decided",
        description="The level above approved or returned a meeting's minutes",
        title="会议记录{result}：{topic}",
        body="「{topic}」的会议记录{result}。{reason}",
        page="pages/party/admin/minutes?meeting_id={meeting_id}",
        channels=(),
    ),
    MessageKind(
        kind="party_transfer_step",
        description="A step of a member's transfer of membership (every step, the member is told)",
        title="组织关系转接：{step}",
        body="您的组织关系转接（{route}）{step}。{remark}",
        page="pages/party/transfer?id={transfer_id}",
        subscribe=Template(
            "linli-sub-party-transfer",
            {"thing1": "{route}", "phrase2": "{step_short}", "time3": "{at}", "thing4": "{remark}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_dues_paid",
        description="A member's dues were paid (online or recorded by the branch)",
        title="党费已缴纳：{months_text}",
        body="您{months_text}的党费共 {amount_yuan} 元已缴纳（{channel_name}），已缴至{paid_until_text}。",
        page="pages/party/dues",
        subscribe=Template(
            "linli-sub-party-dues-paid",
            {"thing1": "{months_text}", "amount2": "{amount_yuan}", "time3": "{paid_at}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_dues_reminder",
        description="The dues of the month are not paid yet (on the configured reminder days)",
        title="党费缴纳提醒",
        body="您本月党费 {due_yuan} 元尚未缴纳（已缴至{paid_until_text}），可在小程序在线缴纳或交所在党支部。",
        page="pages/party/dues",
        subscribe=Template(
            "linli-sub-party-dues-reminder",
            {"thing1": "党费缴纳提醒", "amount2": "{due_yuan}", "thing3": "已缴至{paid_until_text}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_dues_unpaid_flag",
        description="A member of the branch has not paid dues for six months or more (to the branch's officers)",
        title="党费连续未缴提醒",
        body="{branch_name}有党员已连续 {months} 个月未缴纳党费，请在党费未缴名单中查看并按规定处理。",
        page="pages/party/admin/dues-unpaid?org_id={branch_id}",
        channels=(),
    ),
    MessageKind(
        kind="party_registration_decided",
        description="The community's branch confirmed or rejected a working member's registration",
        title="报到{result}",
        body="您向{org_name}的在职党员报到{result}。{reason}",
        page="pages/party/registration",
        subscribe=Template(
            "linli-sub-party-registration",
            {"thing1": "{org_name}", "phrase2": "{result}", "thing3": "{reason}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="party_claim_decided",
        description="The branch decided a member's points claim",
        title="积分申请{result}",
        body="您的积分申请{result}。{detail}",
        page="pages/party/points",
        channels=(),
    ),
    MessageKind(
        kind="party_hours_report",
        description="The quarter's service hours of working members registered with the organisation are ready",
        title="在职党员服务时长报表（{quarter}）",
        body="{org_name}报到的在职党员{quarter}服务时长报表已生成，请下载后反馈给其所在单位党组织。",
        page="pages/party/admin/registrations?org_id={org_id}&quarter={quarter}",
        channels=(),
    ),
    MessageKind(
        kind="party_member_account_deleted",
        description="A member of the branch deleted their account: the member record stays, without it",
        title="党员注销小程序账号",
        body="{branch_name}党员{name}已注销小程序账号。党员档案、党费和组织生活记录由党组织保存，今后请线下联系。",
        page="pages/party/admin/member?id={member_id}",
        channels=(),
    ),
    MessageKind(
        kind="party_announcement",
        description="A new announcement of the member's branch or an organisation above it",
        title="党务公告：{title}",
        body="{org_name}发布公告「{title}」，请及时阅读。",
        page="pages/party/announcement?id={announcement_id}",
        channels=(),
    ),
)
