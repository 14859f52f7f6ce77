"""/console/reports for central, province and commune officials, with drill-down; the public page /cong-khai."""

from __future__ import annotations

import base64
import re
from html import unescape

from backend.console.reports import PUBLIC_CACHE_KEY
from backend.services.reports import today_vn

from .conftest import Api, add_official, file, vn
from .test_summary_api import known_data, topic_data

QUERY = "from=2026-11-01&to=2026-11-30"


def login(api: Api, username: str) -> None:
    api.client.cookies.clear()
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def charts_in(html: str) -> list[str]:
    """The SVG documents of the page's chart images."""
    return [base64.b64decode(m).decode() for m in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


def test_console_reports_for_central_with_drill_down_to_a_commune(api: Api) -> None:
    known_data(api)
    add_official(api.container, "tw.admin", "TW", "admin")
    assert api.client.get("/console/reports", follow_redirects=False).headers["location"] == "/console/login"
    login(api, "tw.admin")
    r = api.client.get(f"/console/reports?{QUERY}")
    assert r.status_code == 200, r.text
    html = unescape(r.text)
    assert "Báo cáo tổng hợp ý kiến, kiến nghị của Nhân dân" in html
    assert "từ 01/11/2026 đến 30/11/2026" in html
    assert "Các tỉnh, thành phố" in html and "66,7%" in html  # on time: 2 of 3 answered
    svgs = charts_in(r.text)
    assert len(svgs) >= 4 and all(s.lstrip().startswith("<?xml") and "<svg" in s for s in svgs)
    assert not re.search(r"<script(?![^>]*\bsrc=\"/console/static/)", r.text)  # no inline scripts (strict CSP)
    assert " style=" not in r.text  # the CSP forbids inline styles: charts are images
    assert "script-src 'self'" in r.headers["content-security-policy"]
    # drill down: TW → Hà Nội → Hoàn Kiếm, by the links of the child-unit table
    link = re.search(r'href="(/console/reports\?unit=01&[^"]+)"', r.text)
    assert link is not None
    province = api.client.get(unescape(link.group(1)))
    assert "Các xã, phường, đặc khu" in unescape(province.text) and "Phường Hoàn Kiếm" in province.text
    link = re.search(r'href="(/console/reports\?unit=00070&[^"]+)"', province.text)
    assert link is not None
    commune = api.client.get(unescape(link.group(1)))
    assert commune.status_code == 200
    assert "Các xã, phường" not in unescape(commune.text)
    crumbs = unescape(commune.text).split('class="crumbs"')[1].split("</nav>")[0]
    assert "Ủy ban Trung ương" in crumbs and "Thành phố Hà Nội" in crumbs and "Phường Hoàn Kiếm" in crumbs


def test_console_reports_for_province_and_commune_officials(api: Api) -> None:
    known_data(api)
    add_official(api.container, "hn.sup", "01", "supervisor")
    add_official(api.container, "hk.sup", "00070", "supervisor")
    login(api, "hn.sup")
    html = unescape(api.client.get(f"/console/reports?{QUERY}").text)
    assert "Thành phố Hà Nội" in html and "Phường Cửa Nam" in html
    assert api.client.get(f"/console/reports?unit=79&{QUERY}").status_code == 404
    assert api.client.get(f"/console/reports?unit=26734&{QUERY}").status_code == 404
    filtered = unescape(api.client.get(f"/console/reports?{QUERY}&category=moi_truong&channel=telegram").text)
    assert "lĩnh vực Môi trường" in filtered and "kênh Telegram" in filtered
    login(api, "hk.sup")
    html = unescape(api.client.get(f"/console/reports?{QUERY}").text)
    assert "Phường Hoàn Kiếm" in html and "Các xã, phường" not in html
    assert api.client.get(f"/console/reports?unit=01&{QUERY}").status_code == 404
    bad = unescape(api.client.get("/console/reports?from=2026-11-30&to=2026-11-01").text)
    assert "Khoảng thời gian không hợp lệ" in bad


def test_topics_with_example_links_and_the_notice_in_the_console(api: Api) -> None:
    topic_data(api)
    add_official(api.container, "hcm.sup", "79", "supervisor")
    login(api, "hcm.sup")
    html = unescape(api.client.get(f"/console/reports?{QUERY}").text)
    assert "Tăng đột biến" in html and "Hạ tầng: " in html
    assert re.search(r'href="/console/tickets/PA-[0-9A-Z]{4}-[0-9A-Z]{4}"', html)
    assert "Thông báo cho đơn vị" in html and "Chủ đề tăng đột biến" in html


def test_public_page_counts_only_no_text_no_personal_data(api: Api) -> None:
    file(api, "Nhà ông Nguyễn Văn Bí mật, số 0912345678, đường ngập", unit="00070", created=vn(2026, 11, 3))
    file(api, "Cán bộ xã Bí Mật nhận hối lộ", unit="01", category="can_bo_tham_nhung", created=vn(2026, 11, 4))
    recent = today_vn()
    file(api, "Đèn đường hỏng", unit="26734", created=vn(recent.year, recent.month, recent.day, 0, 5))
    r = api.client.get("/cong-khai")
    assert r.status_code == 200, r.text
    html = unescape(r.text)
    assert "Công khai số liệu" in html and "Thành phố Hà Nội" in html and "Thành phố Hồ Chí Minh" in html
    assert "Cán bộ, tham nhũng" in html  # a sensitive field: its count, nothing else
    for secret in ("Nguyễn Văn", "Bí mật", "Bí Mật", "0912345678", "hối lộ", "ngập", "Đèn đường", "PA-", "Hoàn Kiếm"):
        assert secret not in html, secret
        assert all(secret not in svg for svg in charts_in(r.text)), secret
    assert r.headers["cache-control"] == "public, max-age=300"
    assert api.container.kv.sync.ttl(api.container.kv.key(*PUBLIC_CACHE_KEY)) > 0
    # cached: a new ticket shows after the cache expires, not before
    file(api, "Thêm một phản ánh", unit="26734", created=vn(recent.year, recent.month, recent.day, 0, 6))
    before = number_received(api.client.get("/cong-khai").text)
    api.container.kv.sync.delete(api.container.kv.key(*PUBLIC_CACHE_KEY))
    after = number_received(api.client.get("/cong-khai").text)
    assert after == before + 1


def number_received(html: str) -> int:
    match = re.search(r'<span class="v">([\d.]+)</span><span class="l">phản ánh, kiến nghị đã tiếp nhận', html)
    assert match is not None
    return int(match.group(1).replace(".", ""))


def test_public_page_needs_no_login_and_shows_the_on_time_rate(api: Api) -> None:
    known_data(api)
    api.client.cookies.clear()
    html = unescape(api.client.get("/cong-khai").text)
    assert re.search(r'<span class="v">66,7%</span><span class="l">trả lời đúng hạn', html)  # 2 of 3 answered
    hanoi = html.split("<td>Thành phố Hà Nội</td>")[1].split("</tr>")[0]
    assert (
        '<td class="n">7</td>' in hanoi
    )  # the whole 12 months: October and December too and '<td class="n">50,0%</td>' in hanoi
