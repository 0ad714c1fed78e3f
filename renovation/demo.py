"""A deterministic simulation of the 2021 programme of 辽源, driven through the same use cases as a
user would drive them (no back door into the store).

The six compounds the source article names keep their real names; every contractor, person and
number here is synthetic.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from renovation.application import RenovationApp
from renovation.domain.compound import NewFinding
from renovation.domain.errors import DomainError
from renovation.domain.values import BoqItem, boq_total, period_of

ZONE = ZoneInfo("Asia/Shanghai")
KICK_OFF = date(2021, 2, 16)

SEED_COMPOUNDS = [  # named in the article, inspected on 2021-02-28
    ("JM", "吉明小区", "龙山区"),
    ("LY", "利源小区", "龙山区"),
    ("YH", "颐和小区", "西安区"),
    ("SBCY", "商标彩印小区", "龙山区"),
    ("KX9301", "科协9301号楼", "西安区"),
    ("HH", "洪海小区", "西安区"),
]
CONTRACTORS = [f"示例建工{n}公司" for n in "一二三四五六七八"]  # synthetic
SUPERVISORS = ["监理甲-张工", "监理甲-李工", "监理乙-王工", "监理乙-赵工"]  # two synthetic firms
AUDITOR = "造价咨询-孙工"
BUREAU = "住建局-周科长"

#: Work categories of 老旧小区改造: code, description, unit, quantity per household, unit price (yuan).
BOQ_TEMPLATE = [
    ("010101", "基础类-雨污分流管网改造", "m", Decimal("1.8"), Decimal("420.00")),
    ("010201", "基础类-供水管网改造", "m", Decimal("1.2"), Decimal("260.00")),
    ("010301", "基础类-燃气管网改造", "m", Decimal("0.9"), Decimal("310.00")),
    ("010401", "基础类-屋面防水", "m2", Decimal("6.5"), Decimal("95.50")),
    ("010501", "基础类-外墙粉刷", "m2", Decimal("12"), Decimal("38.80")),
    ("010601", "基础类-楼道改造", "m2", Decimal("3.2"), Decimal("126.00")),
    ("010701", "基础类-道路硬化", "m2", Decimal("4.5"), Decimal("168.00")),
    ("020101", "完善类-外墙保温", "m2", Decimal("14"), Decimal("185.00")),
    ("020201", "完善类-节能门窗", "m2", Decimal("2.1"), Decimal("520.00")),
    ("020301", "完善类-停车位施划", "个", Decimal("0.3"), Decimal("350.00")),
    ("020401", "完善类-绿化补植", "m2", Decimal("2.5"), Decimal("88.00")),
    ("030101", "提升类-智能安防", "套", Decimal("0.02"), Decimal("46000.00")),
]

FINDING_TEXTS = {
    "quality": ["墙面保温板空鼓", "防水卷材搭接不足", "管道坡度不符", "抹灰开裂"],
    "safety": ["脚手架未挂安全网", "临时用电私拉乱接", "高处作业未系安全带", "基坑未设护栏"],
    "civilized": ["渣土未苫盖", "材料堆放占道", "施工噪音扰民", "围挡破损"],
}
MATERIALS = ["防水卷材", "保温板", "PE管材", "水泥", "钢筋"]
FEEDBACK_TEXTS = ["楼道施工噪音太早", "希望增加停车位", "外墙颜色征求意见", "燃气改造入户时间", "感谢施工队"]


@dataclass
class Site:
    code: str
    name: str
    district: str
    contractor: str
    households: int
    start: date
    finish: date
    illegal: int
    supervisor: str
    open_findings: list[tuple[str, date]] = field(default_factory=list)
    rectified: list[str] = field(default_factory=list)
    pending_samples: list[tuple[str, str, date]] = field(default_factory=list)
    open_tickets: list[tuple[str, date]] = field(default_factory=list)
    started: bool = False


class Simulation:
    """Runs the programme day by day; the application's clock is the simulated clock."""

    def __init__(self, app: RenovationApp, *, seed: int = 2021, compounds: int = 6) -> None:
        self.app = app
        self.random = random.Random(seed)
        self.moment = datetime.combine(KICK_OFF, time(9), ZONE)
        app.clock = lambda: self.moment
        self.sites = [self.plan_site(n) for n in range(compounds)]
        self.events = 0

    def plan_site(self, n: int) -> Site:
        rnd = self.random
        if n < len(SEED_COMPOUNDS):
            code, name, district = SEED_COMPOUNDS[n]
        else:
            code, name = f"SL{n + 1:02d}", f"示例小区{n + 1:02d}"  # synthetic
            district = rnd.choice(["龙山区", "西安区", "东丰县", "东辽县"])
        start = KICK_OFF + timedelta(days=(12 if n < len(SEED_COMPOUNDS) else rnd.randint(10, 70)))
        return Site(
            code=code, name=name, district=district, contractor=CONTRACTORS[n % len(CONTRACTORS)],
            households=rnd.randint(80, 420), start=start, finish=start + timedelta(days=rnd.randint(90, 150)),
            illegal=rnd.choice([0, 0, 1, 2, 5]), supervisor=SUPERVISORS[n % len(SUPERVISORS)],
        )

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        self.moment = datetime.combine(day, time(hour, minute), ZONE)
        return self.moment

    def run(self, until: date, on_day: Callable[[date], None] | None = None) -> None:
        for day in days(KICK_OFF, until):
            self.day(day)
            if on_day:
                on_day(day)

    def day(self, day: date) -> None:
        if day == KICK_OFF:
            self.at(day, 9)
            for site in self.sites:
                self.register(site, day)
        for site in self.sites:
            if not site.started and day >= site.start:
                self.at(day, 8)
                if site.illegal:
                    self.app.clear_illegal_structures(site.code, user=BUREAU)
                self.app.start_construction(site.code, day, user=BUREAU)
                site.started = True
            if site.started and day <= site.finish:
                self.site_day(site, day)
        if day.day == 1 and day > KICK_OFF:
            self.month_end(day - timedelta(days=1))

    def register(self, site: Site, day: date) -> None:
        items = [
            BoqItem(code, desc, unit, (per * site.households).quantize(Decimal("0.1")), price)
            for code, desc, unit, per, price in BOQ_TEMPLATE
        ]
        self.app.register_compound(
            code=site.code, name=site.name, district=site.district, contractor=site.contractor,
            households=site.households, contract_value=boq_total(items), planned_start=site.start,
            planned_finish=site.finish, user=BUREAU,
        )
        self.app.set_bill_of_quantities(site.code, items, user=AUDITOR)
        if site.illegal:
            self.app.record_illegal_structures(site.code, site.illegal, user=BUREAU)

    def site_day(self, site: Site, day: date) -> None:
        rnd = self.random
        if rnd.random() < 0.95:  # the morning round (晨检) departs at 06:30; a few days are missed
            moment = self.at(day, 6, rnd.randint(30, 59))
            self.inspect(site, "morning", moment)
        if rnd.random() < 0.15:
            self.inspect(site, "patrol", self.at(day, rnd.randint(10, 16)))
        self.follow_up(site, day)
        if rnd.random() < 0.08:
            self.at(day, 10)
            regime = rnd.choice(["routine", "routine", "cross", "blind"])
            batch = f"{site.code}-B{rnd.randint(1, 40):02d}"
            try:
                recorded = self.app.sample_material(
                    site.code, material=rnd.choice(MATERIALS), batch=batch, regime=regime,
                    witness=site.supervisor, user=site.supervisor,
                )
            except DomainError:  # a rejected batch is never sampled again
                return
            site.pending_samples.append((recorded["sample_id"], batch, day + timedelta(days=3)))
        if rnd.random() < 0.05:
            ticket = self.app.receive_feedback(
                site.code, rnd.choice(["hotline", "form", "visit"]), rnd.choice(FEEDBACK_TEXTS),
                at=self.at(day, rnd.randint(9, 17)), user="热线-接线员",
            )
            site.open_tickets.append((ticket["ticket_id"], day + timedelta(days=rnd.randint(1, 6))))

    def inspect(self, site: Site, kind: str, moment: datetime) -> None:
        rnd = self.random
        findings = []
        if rnd.random() < 0.25:
            category = rnd.choice(["quality", "safety", "civilized"])
            findings.append(
                NewFinding(category, rnd.choice(["minor", "minor", "major", "critical"]),
                           rnd.choice(FINDING_TEXTS[category]), f"{rnd.randint(1, 12)}号楼")
            )
        recorded = self.app.record_inspection(site.code, kind, at=moment, findings=findings, user=site.supervisor)
        for finding_id in recorded["finding_ids"]:
            site.open_findings.append((finding_id, moment.date() + timedelta(days=rnd.randint(1, 9))))

    def follow_up(self, site: Site, day: date) -> None:
        rnd = self.random
        for finding_id in list(site.rectified):
            self.at(day, 15)
            if rnd.random() < 0.1:
                self.app.reopen_finding(site.code, finding_id, note="复查未通过", user=site.supervisor)
                site.open_findings.append((finding_id, day + timedelta(days=2)))
            else:
                self.app.close_finding(site.code, finding_id, note="复查合格", user=site.supervisor)
            site.rectified.remove(finding_id)
        for finding_id, when in list(site.open_findings):
            if day >= when:
                self.at(day, 14)
                self.app.rectify_finding(site.code, finding_id, note="已整改", user=site.contractor)
                site.open_findings.remove((finding_id, when))
                site.rectified.append(finding_id)
        for sample_id, batch, when in list(site.pending_samples):
            if day >= when:
                self.at(day, 11)
                self.app.record_material_result(
                    site.code, sample_id, passed=rnd.random() > 0.12, lab="示例检测中心",
                    report=f"JC-{sample_id}-{day:%m%d}", user=site.supervisor,
                )
                site.pending_samples.remove((sample_id, batch, when))
        for ticket_id, when in list(site.open_tickets):
            if day >= when:
                self.at(day, 16)
                self.app.resolve_feedback(site.code, ticket_id, "已答复居民", user="热线-接线员")
                site.open_tickets.remove((ticket_id, when))

    def month_end(self, last_day: date) -> None:
        """Monthly metering by the cost consultant, then the horse-race scores of the month."""
        rnd = self.random
        period = period_of(last_day)
        self.at(last_day + timedelta(days=1), 10)
        for site in self.sites:
            if not site.started or period < period_of(site.start):
                continue
            share = Decimal(rnd.randint(8, 22)) / 100
            for code, _desc, _unit, per, _price in BOQ_TEMPLATE:
                contract = (per * site.households).quantize(Decimal("0.1"))
                quantity = (contract * share).quantize(Decimal("0.1"))
                try:
                    self.app.measure(site.code, code, period, quantity, user=AUDITOR)
                except DomainError:  # the item is fully metered
                    continue
            scores = {dim: Decimal(rnd.randint(70, 98)) for dim in
                      ("quality", "safety", "progress", "civilized", "satisfaction")}
            self.app.score(site.code, period, scores, user=BUREAU)


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
