"""The 2021 programme of 辽源 as a deterministic simulation, driven through the same use cases a user
drives (no back door into the store), one simulated day per transaction.

The six compounds the city's article names keep their real names; every other compound is marked
as synthetic (示例小区NN), and every contractor, firm, person and number is synthetic too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from renovation.domain.compound import CompoundProject, NewFinding
from renovation.domain.errors import DomainError
from renovation.domain.values import BoqItem, boq_total, period_of
from renovation.services.application import RenovationApp

DEMO_ZONE = "Asia/Shanghai"
ZONE = ZoneInfo(DEMO_ZONE)
KICK_OFF = date(2021, 2, 16)
DEFAULT_UNTIL = date(2021, 7, 31)
DISTRICTS = ("龙山区", "西安区", "东丰县", "东辽县")

SEED_COMPOUNDS = [  # named in the article, inspected on 2021-02-28
    ("JM", "吉明小区", "龙山区"),
    ("LY", "利源小区", "龙山区"),
    ("YH", "颐和小区", "西安区"),
    ("SBCY", "商标彩印小区", "龙山区"),
    ("KX9301", "科协9301号楼", "西安区"),
    ("HH", "洪海小区", "西安区"),
]
#: Synthetic construction units, with how careful each is (fewer findings, fewer failed samples).
CONTRACTORS = [
    ("示例建工一公司", 0.9),
    ("示例建工二公司", 1.3),
    ("示例建工三公司", 0.8),
    ("示例建工四公司", 1.1),
    ("示例建工五公司", 1.0),
    ("示例建工六公司", 1.6),
    ("示例建工七公司", 0.7),
    ("示例建工八公司", 1.2),
]
SUPERVISORS = ["示例监理甲-张工", "示例监理甲-李工", "示例监理乙-王工", "示例监理乙-赵工"]  # two firms
AUDITOR = "示例造价咨询-孙工"
BUREAU = "住建局-示例科长"
HOTLINE = "热线0437-3396677-示例接线员"
LAB = "示例建设工程质量检测中心"

#: Work categories of 老旧小区改造 (基础类 / 完善类 / 提升类): code, description, unit,
#: quantity per household, all-in unit price in yuan.
BOQ_TEMPLATE = [
    ("010101", "基础类-雨水管网改造", "m", Decimal("0.9"), Decimal("385.00")),
    ("010102", "基础类-污水管网改造(雨污分流)", "m", Decimal("1.1"), Decimal("428.50")),
    ("010201", "基础类-供水管网改造", "m", Decimal("1.2"), Decimal("262.00")),
    ("010301", "基础类-燃气管网改造", "m", Decimal("0.8"), Decimal("318.00")),
    ("010401", "基础类-供热管网改造", "m", Decimal("0.7"), Decimal("546.00")),
    ("010501", "基础类-屋面防水", "m2", Decimal("6.5"), Decimal("95.50")),
    ("010601", "基础类-外墙涂料翻新", "m2", Decimal("12"), Decimal("38.80")),
    ("010701", "基础类-楼道粉刷及照明", "m2", Decimal("3.2"), Decimal("126.00")),
    ("010801", "基础类-消防设施更新", "套", Decimal("0.05"), Decimal("8600.00")),
    ("010901", "基础类-小区道路硬化", "m2", Decimal("4.5"), Decimal("168.00")),
    ("011001", "基础类-路灯更换", "盏", Decimal("0.06"), Decimal("2350.00")),
    ("020101", "完善类-外墙保温", "m2", Decimal("14"), Decimal("185.00")),
    ("020201", "完善类-节能门窗", "m2", Decimal("2.1"), Decimal("520.00")),
    ("020301", "完善类-加装电梯", "部", Decimal("0.01"), Decimal("420000.00")),
    ("020401", "完善类-停车位施划", "个", Decimal("0.3"), Decimal("350.00")),
    ("020501", "完善类-充电桩", "个", Decimal("0.05"), Decimal("3800.00")),
    ("020601", "完善类-绿化补植", "m2", Decimal("2.5"), Decimal("88.00")),
    ("020701", "完善类-信报箱", "组", Decimal("0.04"), Decimal("2100.00")),
    ("030101", "提升类-社区养老驿站", "m2", Decimal("0.4"), Decimal("1650.00")),
    ("030201", "提升类-托育服务用房", "m2", Decimal("0.3"), Decimal("1580.00")),
    ("030301", "提升类-智能安防", "套", Decimal("0.02"), Decimal("46000.00")),
]
FINDING_TEXTS = {
    "quality": ["墙面保温板空鼓", "防水卷材搭接不足", "管道坡度不符设计", "抹灰开裂", "涂料流坠"],
    "safety": ["脚手架未挂安全网", "临时用电私拉乱接", "高处作业未系安全带", "基坑未设护栏", "动火作业无监护"],
    "civilized": ["渣土未苫盖", "材料堆放占道", "夜间施工扰民", "围挡破损", "道路遗撒"],
}
MATERIALS = ["防水卷材", "保温板", "PE给水管", "HDPE排水管", "水泥", "钢筋", "外墙涂料"]
FEEDBACK_TEXTS = [
    "楼道施工噪音太早",
    "希望增加停车位",
    "外墙颜色征求意见",
    "燃气改造入户时间",
    "感谢施工队",
    "施工占道影响出行",
    "加装电梯意见",
    "养老驿站开放时间",
]
QUARTER = Decimal("0.1")
#: The retention the demo's certificates hold: renovation.toml's default.
RETENTION_PERCENT = Decimal(3)


@dataclass
class Site:
    code: str
    name: str
    district: str
    contractor: str
    care: float  # the contractor's finding and failure rate multiplier
    households: int
    start: date
    finish: date  # when construction really completes (the plan may differ)
    planned_start: date
    planned_finish: date
    illegal: int
    supervisor: str
    contract: dict[str, Decimal] = field(default_factory=dict)
    metered: dict[str, Decimal] = field(default_factory=dict)
    open_findings: list[tuple[str, date]] = field(default_factory=list)
    rectified: list[tuple[str, date]] = field(default_factory=list)
    pending_samples: list[tuple[str, date]] = field(default_factory=list)
    open_tickets: list[tuple[str, date]] = field(default_factory=list)
    month_findings: dict[str, int] = field(default_factory=dict)
    month_complaints: int = 0
    stage: str = "registered"
    accept_on: date | None = None
    handover_after: int = 7  # days from acceptance to hand-over


class Simulation:
    """Runs the programme day by day; the application's clock is the simulated clock."""

    def __init__(self, app: RenovationApp, *, seed: int = 2021, compounds: int = 53) -> None:
        self.app = app
        self.random = random.Random(seed)
        self.moment = datetime.combine(KICK_OFF, time(9), ZONE)
        app.clock = lambda: self.moment
        self.sites = [self.plan_site(n, compounds) for n in range(compounds)]
        self.loaded: dict[str, CompoundProject] = {}
        self.variations = 0
        #: Progress payments draw on a stream of their own, so the rest of the programme is as before.
        self.payments_random = random.Random(seed + 1)
        self.payments_due: list[tuple[date, str, str, Decimal]] = []  # day, code, certificate, amount

    def plan_site(self, n: int, total: int) -> Site:
        rnd = self.random
        if n < len(SEED_COMPOUNDS):
            code, name, district = SEED_COMPOUNDS[n]
            start_offset = 12  # the article's first inspection: 2021-02-28
        else:
            code, name = f"SL{n + 1:02d}", f"示例小区{n + 1:02d}"  # synthetic
            district = DISTRICTS[n % len(DISTRICTS)]
            # A few start only after the summer: they are still clearing illegal structures.
            start_offset = rnd.randint(12, 90) if n < total - max(1, total // 12) else rnd.randint(170, 200)
        contractor, care = CONTRACTORS[n % len(CONTRACTORS)]
        start = KICK_OFF + timedelta(days=start_offset)
        # Some small compounds finish early enough to be accepted and handed over by July.
        duration = rnd.randint(60, 80) if n % 9 == 3 else rnd.randint(95, 170)
        planned_start = start - timedelta(days=rnd.choice([0, 0, 0, 3, 7]))
        return Site(
            code=code,
            name=name,
            district=district,
            contractor=contractor,
            care=care,
            households=rnd.randint(60, 480),
            start=start,
            finish=start + timedelta(days=duration),
            planned_start=planned_start,
            planned_finish=planned_start + timedelta(days=duration - rnd.randint(-5, 15)),
            illegal=rnd.choice([0, 0, 1, 2, 4]) if start_offset < 170 else rnd.randint(2, 9),
            supervisor=SUPERVISORS[n % len(SUPERVISORS)],
            handover_after=rnd.randint(5, 30),
        )

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        self.moment = datetime.combine(day, time(hour, minute), ZONE)
        return self.moment

    def run(self, until: date, on_day: Callable[[date], None] | None = None) -> None:
        for day in days(KICK_OFF, until):
            with self.app.batch(self.loaded):
                self.day(day)
            if on_day:
                on_day(day)

    def day(self, day: date) -> None:
        if day == KICK_OFF:
            self.at(day, 9)
            for site in self.sites:
                self.register(site)
        if day.day == 1 and day > KICK_OFF:
            self.month_end(day - timedelta(days=1))
        self.pay(day)
        for site in self.sites:
            self.site_day(site, day)

    def register(self, site: Site) -> None:
        items = [
            BoqItem(code, desc, unit, max(QUARTER, (per * site.households).quantize(QUARTER)), price)
            for code, desc, unit, per, price in BOQ_TEMPLATE
        ]
        site.contract = {item.code: item.quantity for item in items}
        site.metered = dict.fromkeys(site.contract, Decimal(0))
        self.app.register_compound(
            code=site.code,
            name=site.name,
            district=site.district,
            contractor=site.contractor,
            households=site.households,
            contract_value=boq_total(items),
            planned_start=site.planned_start,
            planned_finish=site.planned_finish,
            user=BUREAU,
        )
        self.app.set_bill_of_quantities(site.code, items, user=AUDITOR)
        if site.illegal:
            self.app.record_illegal_structures(site.code, site.illegal, user=BUREAU)

    def site_day(self, site: Site, day: date) -> None:
        if site.stage == "registered" and day >= site.start:
            self.at(day, 8)
            if site.illegal:
                self.app.clear_illegal_structures(site.code, user=BUREAU)  # 改旧先拆违
            self.app.start_construction(site.code, day, user=BUREAU)
            site.stage = "construction"
        if site.stage == "construction":
            self.construction_day(site, day)
            if day >= site.finish:
                self.complete(site, day)
        if site.stage in ("construction", "completed"):
            self.follow_up(site, day)
        if site.stage == "completed" and site.accept_on and day >= site.accept_on:
            self.at(day, 10)
            try:
                self.app.accept(site.code, day, user=BUREAU)  # 竣工验收
            except DomainError:
                site.accept_on = day + timedelta(days=2)  # findings or samples still open
            else:
                site.stage = "accepted"
        elif (
            site.stage == "accepted" and site.accept_on and day >= site.accept_on + timedelta(days=site.handover_after)
        ):
            self.at(day, 10)
            self.app.hand_over(site.code, day, None, user=BUREAU)  # 15-year O&M by the contractor
            site.stage = "handed_over"
        if site.stage != "registered" and self.random.random() < 0.05:
            self.feedback(site, day)

    def construction_day(self, site: Site, day: date) -> None:
        rnd = self.random
        if rnd.random() < 0.95:  # the morning round departs at 06:30; a few days are missed
            self.inspect(site, "morning", self.at(day, 6, rnd.randint(30, 59)))
        if rnd.random() < 0.5:  # unannounced patrol
            self.inspect(site, "patrol", self.at(day, rnd.randint(9, 16), rnd.randint(0, 59)))
        regime = None
        if day.weekday() == 1:
            regime = "routine"
        elif rnd.random() < 0.03:
            regime = rnd.choice(["cross", "blind"])
        if regime:
            self.sample(site, day, regime, f"{site.code}-B{rnd.randint(1, 60):02d}")

    def inspect(self, site: Site, kind: str, moment: datetime) -> None:
        rnd = self.random
        findings = []
        for _ in range(2):
            if rnd.random() < 0.22 * site.care:
                category = rnd.choice(["quality", "quality", "safety", "civilized"])
                severity = rnd.choices(["minor", "major", "critical"], weights=[70, 25, 5])[0]
                findings.append(
                    NewFinding(category, severity, rnd.choice(FINDING_TEXTS[category]), f"{rnd.randint(1, 12)}号楼")
                )
                site.month_findings[category] = site.month_findings.get(category, 0) + 1
                if severity != "minor":
                    site.month_findings[category] += 1
        recorded = self.app.record_inspection(site.code, kind, at=moment, findings=findings, user=site.supervisor)
        project = self.app.get_project(site.code)
        for finding in (project.findings[finding_id] for finding_id in recorded.finding_ids):
            late = rnd.random() < 0.12 * site.care  # some are rectified after their due date
            days_to_fix = (finding.due - moment.date()).days + (rnd.randint(1, 6) if late else -rnd.randint(0, 1))
            site.open_findings.append((finding.finding_id, moment.date() + timedelta(days=max(1, days_to_fix))))

    def sample(self, site: Site, day: date, regime: str, batch: str) -> None:
        try:
            recorded = self.app.sample_material(
                site.code,
                material=self.random.choice(MATERIALS),
                batch=batch,
                regime=regime,
                witness=site.supervisor,
                at=self.at(day, 10),
                user=site.supervisor,
            )
        except DomainError:  # a rejected batch has left the site
            return
        site.pending_samples.append((recorded.sample_id, day + timedelta(days=self.random.randint(2, 5))))

    def follow_up(self, site: Site, day: date) -> None:
        rnd = self.random
        for finding_id, when in list(site.rectified):
            if day >= when:  # the supervisor's re-check (复查)
                self.at(day, 15)
                if rnd.random() < 0.08 * site.care:
                    self.app.reopen_finding(site.code, finding_id, note="复查未通过", user=site.supervisor)
                    site.open_findings.append((finding_id, day + timedelta(days=2)))
                else:
                    self.app.close_finding(site.code, finding_id, note="复查合格,销项", user=site.supervisor)
                site.rectified.remove((finding_id, when))
        for finding_id, when in list(site.open_findings):
            if day >= when:
                self.at(day, 14)
                self.app.rectify_finding(site.code, finding_id, note="已按整改通知整改", user=site.contractor)
                site.open_findings.remove((finding_id, when))
                site.rectified.append((finding_id, day + timedelta(days=rnd.randint(1, 2))))
        for sample_id, when in list(site.pending_samples):
            if day >= when:
                self.at(day, 11)
                taken = self.app.get_project(site.code).samples[sample_id]
                failure = (0.45 if taken.resample_of else 0.07) * site.care
                outcome = self.app.record_material_result(
                    site.code,
                    sample_id,
                    passed=rnd.random() > failure,
                    lab=LAB,
                    report=f"JC2021-{site.code}-{sample_id}",
                    user=site.supervisor,
                )
                site.pending_samples.remove((sample_id, when))
                if outcome.outcome == "resample_required":  # double quantity, same batch
                    self.sample(site, day, taken.regime, taken.batch)
        for ticket_id, when in list(site.open_tickets):
            if day >= when:
                self.at(day, 16)
                self.app.resolve_feedback(site.code, ticket_id, "已电话回复居民并现场处理", user=HOTLINE)
                site.open_tickets.remove((ticket_id, when))

    def complete(self, site: Site, day: date) -> None:
        """Final metering of what remains, then completion; acceptance follows once all is closed."""
        self.at(day, 17)
        period = period_of(day)
        for item, contract in site.contract.items():
            rest = contract - site.metered[item]
            if rest > 0:
                self.app.measure(site.code, item, period, rest, user=AUDITOR)
                site.metered[item] = contract
        self.app.complete_construction(site.code, day, user=BUREAU)
        site.stage = "completed"
        site.accept_on = day + timedelta(days=self.random.randint(6, 12))

    def feedback(self, site: Site, day: date) -> None:
        rnd = self.random
        ticket = self.app.receive_feedback(
            site.code,
            rnd.choice(["hotline", "hotline", "form", "visit"]),
            rnd.choice(FEEDBACK_TEXTS),
            at=self.at(day, rnd.randint(9, 17)),
            user=HOTLINE,
        )
        site.month_complaints += 1
        if rnd.random() < 0.9:  # most are resolved within days; a few stay open
            site.open_tickets.append((ticket.ticket_id, day + timedelta(days=rnd.randint(1, 7))))

    def month_end(self, last_day: date) -> None:
        """Monthly metering by the cost consultant (with the odd correction and variation), then
        the month's horse-race scores, which follow each compound's quality record."""
        rnd = self.random
        period = period_of(last_day)
        self.at(last_day + timedelta(days=1), 9)
        for site in self.sites:
            if site.stage != "construction" or period < period_of(site.start):
                continue
            elapsed = Decimal((last_day - site.start).days + 1) / Decimal((site.finish - site.start).days)
            for item, contract in site.contract.items():
                target = min(contract, (contract * elapsed * Decimal(rnd.uniform(0.8, 1.05))).quantize(QUARTER))
                quantity = target - site.metered[item]
                if quantity <= 0:
                    continue
                entry = self.app.measure(site.code, item, period, quantity, user=AUDITOR)
                site.metered[item] += quantity
                corrected = (quantity * Decimal("0.95")).quantize(QUARTER)
                if rnd.random() < 0.02 and corrected != quantity:  # a re-measurement finds the entry too high
                    self.app.correct_measurement(
                        site.code, entry.entry_id, corrected, "复核现场实测,原计量偏大", user=AUDITOR
                    )
                    site.metered[item] += corrected - quantity
            if self.variations < 2 and rnd.random() < 0.05:
                item = rnd.choice(list(site.contract))
                site.contract[item] = (site.contract[item] * Decimal("1.15")).quantize(QUARTER)
                self.app.approve_variation(site.code, item, site.contract[item], "设计变更:实际工程量增加", user=BUREAU)
                self.variations += 1
        self.certify(last_day)
        self.at(last_day + timedelta(days=1), 15)
        for site in self.sites:
            if site.stage == "registered" or not period_of(site.start) <= period <= period_of(site.finish):
                continue
            found = site.month_findings
            scores = {
                "quality": clamp(98 - 2 * found.get("quality", 0) + rnd.randint(-2, 2)),
                "safety": clamp(98 - 4 * found.get("safety", 0) + rnd.randint(-2, 2)),
                "progress": clamp(80 + rnd.randint(-6, 16)),
                "civilized": clamp(97 - 3 * found.get("civilized", 0) + rnd.randint(-2, 2)),
                "satisfaction": clamp(95 - 3 * site.month_complaints + rnd.randint(-3, 3)),
            }
            self.app.score(site.code, period, scores, user=BUREAU)
            site.month_findings = {}
            site.month_complaints = 0


    def certify(self, last_day: date) -> None:
        """The month's payment certificates (计量支付), from the metering just recorded; the bureau pays
        each 8 to 20 days later, in full or 90 % of it."""
        period = period_of(last_day)
        self.at(last_day + timedelta(days=1), 12)
        for site in self.sites:
            if site.stage == "registered" or not period_of(site.start) <= period <= period_of(site.finish):
                continue
            try:
                certified = self.app.certify(site.code, period, RETENTION_PERCENT, user=AUDITOR)
            except DomainError:  # nothing metered in the period
                continue
            share = self.payments_random.choice([Decimal(1), Decimal(1), Decimal("0.9")])
            amount = (certified.amount * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if amount > 0:
                day = last_day + timedelta(days=self.payments_random.randint(9, 21))
                self.payments_due.append((day, site.code, certified.certificate_id, amount))

    def pay(self, day: date) -> None:
        due = [payment for payment in self.payments_due if payment[0] == day]
        if due:
            self.at(day, 11)
        for payment in due:
            self.app.record_payment(payment[1], payment[2], payment[3], day, user=BUREAU)
            self.payments_due.remove(payment)


def clamp(value: int) -> Decimal:
    return Decimal(max(60, min(100, value)))


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
