"""A small platform for the web tests: a data directory with codes of a GS1 product and of
the national schemes (commissioned, so genuine), a clients file with an admin, a scanner,
the GTIN's issuer and another product's issuer, and the Service over both.

    p = Platform(tmp_path)
    p.gs1[0]        # a genuine GS1 element string; p.national["cn-drug-20"][0] a drug code
    p.tokens["admin"]
"""
from __future__ import annotations

import contextlib

import tracecode
from tracecode import schemes
from tracecode.app.clients import Clients, ClientsFile
from tracecode.app.service import Service

GTIN = "09506000134352"
OTHER_GTIN = "09521234543213"
NATIONAL = ("cn-drug-20", "cn-vet-24", "cn-pesticide-32")
BASE_URL = "https://trace.example.gov.cn"


class Platform:
    def __init__(self, tmp_path, *, count: int = 20):
        self.dd = tracecode.init(tmp_path / "data")
        self.gs1 = self._issue("gs1-sgtin", {"gtin": GTIN}, count, "element")
        self.other_gs1 = self._issue("gs1-sgtin", {"gtin": OTHER_GTIN}, count, "element")
        self.national = {name: self._issue(name, schemes.get(name).example_product(), count, "bare")
                         for name in NATIONAL}
        path = tmp_path / "clients.toml"
        f = ClientsFile.open_or_create(path)
        self.tokens = {
            "admin": f.add("boss", ["admin"]),
            "scanner": f.add("shop", ["scanner"]),
            "regulator": f.add("inspector", ["regulator"]),
            "issuer": f.add("brand", ["issuer"], [f"gs1-sgtin:gtin={GTIN}"]),
            "other_issuer": f.add("rival", ["issuer"], [f"gs1-sgtin:gtin={OTHER_GTIN}"]),
        }
        self.svc = Service(self.dd, Clients(path))

    def _issue(self, scheme: str, product: dict, count: int, render: str) -> list:
        batch = self.dd.issue(scheme, product, count)
        codes = self.dd.issuer(scheme, product).codes(batch.record.start, count, render)
        texts = [c.decode() for c in codes]
        bare = [c.decode() for c in self.dd.issuer(scheme, product).codes(batch.record.start, count)]
        result = self.dd.apply([{"id": f"commission-{scheme}-{batch.record.id}", "action": "commission",
                                 "codes": bare}])
        assert result[0]["ok"], result
        return texts

    def auth(self, who: str) -> dict:
        return {"authorization": f"Bearer {self.tokens[who]}"}

    def close(self):
        with contextlib.suppress(Exception):
            self.svc.close()
        self.dd.close()
