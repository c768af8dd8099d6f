"""Message kinds of the volunteers domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`.

An alarm's offer names the estate only: the address reaches the volunteers who accept, in the task page."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel, Urgency

_TASK_PAGE = "pages/volunteer/task?id={task_id}"

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="volunteer_profile_decided",
        description="Staff approved or rejected a resident's volunteer profile",
        title="志愿者登记{outcome}",
        body="您的志愿者登记{outcome}。{reason}",
        page="pages/volunteer/me",
        subscribe=Template("linli-sub-volunteer-profile", {"thing1": "志愿者登记", "phrase2": "{outcome}"}),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="volunteer_promoted",
        description="A waitlisted volunteer got a place on a task",
        title="候补成功：{task_title}",
        body="您候补的志愿任务「{task_title}」已有名额，报名成功。时间：{starts_at_text}，地点：{place}。",
        page=_TASK_PAGE,
        subscribe=Template(
            "linli-sub-volunteer-result",
            {"thing1": "{task_title}", "phrase2": "候补成功", "time3": "{starts_at}", "thing4": "{place}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="volunteer_task_reminder",
        description="A reminder before a task, asking the volunteer to confirm they will come",
        title="请确认参加：{task_title}",
        body="志愿任务「{task_title}」将于{starts_at_text}在{place}开始。请在任务页确认参加；{confirm_by_text}前未确认的名额将让给候补的志愿者。",
        page=_TASK_PAGE,
        subscribe=Template(
            "linli-sub-volunteer-reminder", {"thing1": "{task_title}", "time2": "{starts_at}", "thing3": "{place}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="volunteer_place_released",
        description="An unconfirmed place was released before a task",
        title="名额已释放：{task_title}",
        body="您未确认参加志愿任务「{task_title}」（{starts_at_text}），名额已让给候补的志愿者。",
        page=_TASK_PAGE,
        channels=(),  # the inbox: nothing to act on
    ),
    MessageKind(
        kind="volunteer_task_cancelled",
        description="A task the volunteer signed up for was cancelled",
        title="任务取消：{task_title}",
        body="很抱歉，您报名的志愿任务「{task_title}」（{starts_at_text}）已取消。{reason}",
        page=_TASK_PAGE,
        subscribe=Template(
            "linli-sub-volunteer-cancelled", {"thing1": "{task_title}", "time2": "{starts_at}", "thing3": "{reason}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="volunteer_alert_offer",
        description="An alarm next door nobody has answered: an on-duty volunteer nearby is asked to go",
        title="紧急求助：{place}{alert_type}",
        body=(
            "距您约 {distance} 米的{place}有独居老人家中{alert_type}，家属未能及时确认。"
            "如您能立即前往，请在任务页接受；前 {slots} 位接受的志愿者将看到详细地址。"
        ),
        page=_TASK_PAGE,
        urgency=Urgency.CRITICAL,
        subscribe=Template(
            "linli-sub-volunteer-alert",
            {"thing1": "{alert_type}", "thing2": "{place}", "time3": "{occurred_at}", "thing4": "距您约{distance}米"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="volunteer_stand_down",
        description="The volunteer is not needed after all: the places were taken, or the alarm was handled",
        title="无需前往：{task_title}",
        body="{why}感谢您的响应，无需前往。",
        page=_TASK_PAGE,
        urgency=Urgency.HIGH,
        subscribe=Template("linli-sub-volunteer-result", {"thing1": "{task_title}", "phrase2": "无需前往"}),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="volunteer_hours_recorded",
        description="Hours (and time coins) were added to the volunteer's ledgers",
        title="志愿时长已记录：{hours} 小时",
        body="您在「{task_title}」的 {hours} 小时志愿服务时长已记录{coins_text}，累计 {total_hours} 小时。",
        page="pages/volunteer/hours",
        channels=(),
    ),
    MessageKind(
        kind="volunteer_coins_received",
        description="A family member gave the person time coins",
        title="收到时间币：{coins} 枚",
        body="{giver}转赠给您 {coins} 枚时间币，可用于预约为老服务。",
        page="pages/volunteer/coins",
        channels=(),
    ),
)
