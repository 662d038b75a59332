"""TLS and mutual TLS with certificates made here (cryptography): identities from client
certificates, tokens over TLS, and what is refused."""
import datetime as dt
import ipaddress

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import tracecode
from tracecode.v1 import TLS, Client, ServiceError
from tracecode.app.audit import read as read_audit
from tracecode.app.clients import ClientsFile
from tracecode.v1.testing import ServerProcess

DRUG = {"drug_id": "8177322"}


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(cn, key, issuer_cn, issuer_key, *, ca=False, server=False):
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer_cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    elif not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    return b.sign(issuer_key, hashes.SHA256())


class PKI:
    """A CA, and certificates it signs, as PEM files in a folder."""

    def __init__(self, folder, name):
        self.folder, self.name = folder, name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.ca = self._write(name, self.key, _cert(name, self.key, name, self.key, ca=True))[0]

    def _write(self, stem, key, cert):
        crt, pem = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        return crt, pem

    def issue(self, cn, server=False):
        key = ec.generate_private_key(ec.SECP256R1())
        return self._write(f"{self.name}-{cn}", key, _cert(cn, key, self.name, self.key, server=server))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    data = root / "data"
    tracecode.init(data).close()
    ca, rogue = PKI(root, "ca"), PKI(root, "rogue")
    clients = ClientsFile.open_or_create(root / "clients.toml")
    clients.add("plant-7", ["issuer"], ["cn-drug-20:drug_id=8177322"], certificate_cn="plant-7.example")
    token = clients.add("pda-1", ["scanner"])
    return {"root": root, "data": data, "ca": ca, "rogue": rogue, "token": token,
            "server": ca.issue("localhost", server=True), "clients": root / "clients.toml"}


def test_mutual_tls(pki):
    cert, key = pki["server"]
    crt, pem = pki["ca"].issue("plant-7.example")
    creds = grpc.ssl_channel_credentials(pki["ca"].ca.read_bytes(), pem.read_bytes(), crt.read_bytes())
    with ServerProcess(pki["data"], "--tls-cert", cert, "--tls-key", key, "--client-ca",
                       pki["ca"].ca, "--tokens", pki["clients"], credentials=creds) as server:
        with Client(server.address, tls=TLS(ca=pki["ca"].ca, cert=crt, key=pem)) as plant:
            who = plant.whoami()
            assert (who.name, who.authenticated_by) == ("plant-7", "certificate")
            dl = plant.request_codes("cn-drug-20", DRUG, 1000)
            assert len(dl.all()) == 1000
        # a token still names its client over mutual TLS
        crt, pem = pki["ca"].issue("pda-1.example")
        with Client(server.address, token=pki["token"],
                    tls=TLS(ca=pki["ca"].ca, cert=crt, key=pem)) as pda:
            assert pda.whoami().name == "pda-1"
            with pytest.raises(ServiceError) as info:  # a certificate the clients file lacks
                Client(server.address, tls=TLS(ca=pki["ca"].ca, cert=crt, key=pem)).whoami()
            assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
        # no client certificate, or one from another CA: no TLS session at all
        rogue_crt, rogue_key = pki["rogue"].issue("plant-7.example")
        for tls in (TLS(ca=pki["ca"].ca), TLS(ca=pki["ca"].ca, cert=rogue_crt, key=rogue_key)):
            with Client(server.address, tls=tls, timeout=3, retry_timeout=0) as c:
                with pytest.raises(ServiceError) as info:
                    c.verify("81773220000000000000")
                assert info.value.code in (grpc.StatusCode.UNAVAILABLE,
                                           grpc.StatusCode.DEADLINE_EXCEEDED)
    audit = read_audit(pki["data"] / "audit.log")
    assert any(r["event"] == "unauthenticated" and "pda-1.example" in r["reason"] for r in audit)
    assert any(r["event"] == "issue" and r["client"] == "plant-7" for r in audit)


def test_server_tls_with_tokens(pki):
    cert, key = pki["server"]
    creds = grpc.ssl_channel_credentials(pki["ca"].ca.read_bytes())
    with ServerProcess(pki["data"], "--tls-cert", cert, "--tls-key", key, "--tokens",
                       pki["clients"], credentials=creds) as server:
        with Client(server.address, token=pki["token"], tls=TLS(ca=pki["ca"].ca)) as pda:
            assert pda.whoami().name == "pda-1"
        # the server's name checked against its certificate
        with Client(server.address.replace("127.0.0.1", "localhost"), token=pki["token"],
                    tls=TLS(ca=pki["ca"].ca)) as pda:
            assert pda.whoami().authenticated_by == "token"
        with Client(server.address, token=pki["token"], timeout=3, retry_timeout=0) as plain:
            with pytest.raises(ServiceError):
                plain.verify("81773220000000000000")  # plain text to a TLS port
        with Client(server.address, token=pki["token"], tls=TLS(ca=pki["rogue"].ca), timeout=3,
                    retry_timeout=0) as wrong_ca:
            with pytest.raises(ServiceError):
                wrong_ca.verify("81773220000000000000")
