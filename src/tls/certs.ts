/**
 * Certificate authorities and the three kinds of certificate they sign: server (serverAuth
 * only), client (clientAuth only) and etcd peer (both: a member serves its peers and dials
 * them with one certificate). Which CA signs what is decided in authorities.ts.
 *
 * Keys are RSA 2048 made by node:crypto (native, ~50 ms) and certificates are built with
 * node-forge. A certificate for a host is issued for a public key the host generated
 * itself, so the host's private key never leaves it.
 */
import forge from 'node-forge'
import {createHash, generateKeyPairSync, randomBytes} from 'node:crypto'
import {isIP} from 'node:net'

export interface KeyPairPem {
  certPem: string
  keyPem: string
}

const YEAR_MS = 365 * 24 * 3600 * 1000

export function generateRsaKey(): {privateKeyPem: string; publicKeyPem: string} {
  const {privateKey, publicKey} = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: {type: 'pkcs1', format: 'pem'},
    publicKeyEncoding: {type: 'spki', format: 'pem'},
  })
  return {privateKeyPem: privateKey, publicKeyPem: publicKey}
}

function baseCert(publicKeyPem: string, commonName: string, years: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem)
  // Positive 128-bit serial (leading byte < 0x80 keeps the DER integer positive).
  const serial = randomBytes(16)
  serial[0] &= 0x7f
  cert.serialNumber = serial.toString('hex')
  const now = Date.now()
  // Back-date by an hour so hosts with slightly slow clocks accept the certificate.
  cert.validity.notBefore = new Date(now - 3600 * 1000)
  cert.validity.notAfter = new Date(now + years * YEAR_MS)
  cert.setSubject([{name: 'commonName', value: commonName}, {name: 'organizationName', value: 'cluster'}])
  return cert
}

function sign(cert: forge.pki.Certificate, signerKeyPem: string): string {
  cert.sign(forge.pki.privateKeyFromPem(signerKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create())
  return forge.pki.certificateToPem(cert)
}

/** Extended key usages a certificate (or, for a CA, everything it signs) is good for. */
export interface Usage {
  serverAuth?: boolean
  clientAuth?: boolean
}

/**
 * A CA that signs leaves only (path length 0). Its extended key usage limits what its
 * leaves can be used for, as Go and OpenSSL check it along the chain.
 */
export function createCa(commonName: string, usage: Usage): KeyPairPem {
  const {privateKeyPem, publicKeyPem} = generateRsaKey()
  const cert = baseCert(publicKeyPem, commonName, 10)
  cert.setIssuer(cert.subject.attributes)
  cert.setExtensions([
    {name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true},
    {name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true},
    {name: 'extKeyUsage', ...usage},
    {name: 'subjectKeyIdentifier'},
  ])
  return {certPem: sign(cert, privateKeyPem), keyPem: privateKeyPem}
}

function issue(ca: KeyPairPem, publicKeyPem: string, commonName: string, extensions: object[]): string {
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const cert = baseCert(publicKeyPem, commonName, 3)
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions([
    {name: 'basicConstraints', cA: false},
    {name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true},
    {name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes()},
    ...extensions,
  ])
  return sign(cert, ca.keyPem)
}

/** A client certificate (clientAuth only) for a public key made elsewhere (a host's). */
export function issueClientCert(ca: KeyPairPem, publicKeyPem: string, commonName: string): string {
  return issue(ca, publicKeyPem, commonName, [{name: 'extKeyUsage', clientAuth: true}])
}

/** A client certificate whose key is made here (the CLI's own). */
export function createClientCert(ca: KeyPairPem, commonName: string): KeyPairPem {
  const {privateKeyPem, publicKeyPem} = generateRsaKey()
  return {certPem: issueClientCert(ca, publicKeyPem, commonName), keyPem: privateKeyPem}
}

/**
 * A server certificate (serverAuth only) for a host's public key. Every name and address
 * the host can be reached by goes in the SANs, so a changed or additional address does
 * not break TLS.
 */
export function issueServerCert(ca: KeyPairPem, publicKeyPem: string, commonName: string, sans: string[]): string {
  return issue(ca, publicKeyPem, commonName, [{name: 'extKeyUsage', serverAuth: true}, altNames(sans)])
}

/** An etcd member's certificate: it serves (serverAuth) and dials its peers (clientAuth). */
export function issuePeerCert(ca: KeyPairPem, publicKeyPem: string, commonName: string, sans: string[]): string {
  return issue(ca, publicKeyPem, commonName, [{name: 'extKeyUsage', serverAuth: true, clientAuth: true}, altNames(sans)])
}

function altNames(sans: string[]): object {
  return {name: 'subjectAltName', altNames: uniqueSans(sans).map(s => (isIP(s) ? {type: 7, ip: s} : {type: 2, value: s}))}
}

export function uniqueSans(sans: string[]): string[] {
  return [...new Set(sans.map(s => s.trim()).filter(Boolean))]
}

/** SHA-256 of the certificate's DER, hex: what `inspect` shows and etcd records. */
export function certFingerprint(certPem: string): string {
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes()
  return createHash('sha256').update(Buffer.from(der, 'binary')).digest('hex')
}

/** SANs (DNS names and IPs) of a certificate, for checks and `inspect`. */
export function certSans(certPem: string): string[] {
  const ext = forge.pki.certificateFromPem(certPem).getExtension('subjectAltName') as
    {altNames?: {type: number; value?: string; ip?: string}[]} | undefined
  return (ext?.altNames ?? []).map(a => (a.type === 7 ? a.ip! : a.value!))
}

export function certNotAfter(certPem: string): Date {
  return forge.pki.certificateFromPem(certPem).validity.notAfter
}
