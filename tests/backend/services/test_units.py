"""Seeding the Front's organisation tree from the gazetteer package: complete, idempotent, reports changes."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db.migrate import upgrade
from backend.db.models import OrgUnit
from backend.db.session import make_engine, make_session_factory
from backend.services.units import seed_units


def test_seed_creates_the_whole_tree_and_is_idempotent(backend_urls: tuple[str, str]) -> None:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        report = seed_units(s)
        assert len(report.added) == 1 + 34 + 3321 and not report.renamed and "vietnam-provinces" in report.source
        counts = dict(s.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)).all())
        assert counts == {"central": 1, "province": 34, "commune": 3321}
        hanoi = s.get(OrgUnit, "01")
        assert hanoi is not None and hanoi.name == "Thành phố Hà Nội" and hanoi.parent_code == "TW"
        cao_bang = s.get(OrgUnit, "04")
        assert cao_bang is not None and cao_bang.name == "Tỉnh Cao Bằng"
        hoan_kiem = s.get(OrgUnit, "00070")
        assert hoan_kiem is not None and (hoan_kiem.name, hoan_kiem.parent_code) == ("Phường Hoàn Kiếm", "01")
        orphans = s.scalar(
            select(func.count()).select_from(OrgUnit).where(OrgUnit.level == "commune", OrgUnit.parent_code.is_(None))
        )
        assert orphans == 0

    with factory() as s:
        again = seed_units(s)
        assert not again.changed and again.unchanged == 3356

    with factory() as s:  # the gazetteer renamed a unit and dropped one: the seed reports and repairs it
        unit = s.get(OrgUnit, "00070")
        assert unit is not None
        unit.name = "Phường Cũ"
        s.add(OrgUnit(code="99999", name="Xã Đã Giải Thể", short_name="x", level="commune", parent_code="01"))
        s.commit()
        report = seed_units(s)
        assert report.renamed == [("00070", "Phường Cũ", "Phường Hoàn Kiếm")]
        assert report.deactivated == ["99999"]
        gone = s.get(OrgUnit, "99999")
        assert gone is not None and not gone.active
    engine.dispose()
