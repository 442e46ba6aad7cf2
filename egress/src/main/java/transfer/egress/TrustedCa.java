package transfer.egress;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Which authorities a server's certificate may be signed by: the JVM's own (its {@code cacerts}),
 * plus those of a PEM file of one or more CA certificates (a company's private CA), without
 * replacing the JVM's trust store. Everything else about the check is the JDK's: the chain, the
 * dates, and the name against the host. What origins are checked against ({@code
 * transfer.fetch.trusted-ca}) and what an S3 endpoint is ({@code transfer.storage.s3.trusted-ca}).
 */
public final class TrustedCa {
  private TrustedCa() {}

  /**
   * The trust manager of the JVM's authorities and those in {@code pem}.
   *
   * @param setting the setting that named {@code pem}, for the message when it cannot be read
   */
  public static X509TrustManager withExtra(Path pem, String setting) {
    try {
      KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
      anchors.load(null, null);
      int n = 0;
      for (X509Certificate ca : jvmDefault().getAcceptedIssuers()) {
        anchors.setCertificateEntry("jvm-" + n++, ca);
      }
      Collection<? extends Certificate> extra;
      try (InputStream in = Files.newInputStream(pem)) {
        extra = CertificateFactory.getInstance("X.509").generateCertificates(in);
      }
      if (extra.isEmpty()) {
        throw new IllegalStateException(
            setting + ": " + pem + " holds no certificate (a PEM file is expected)");
      }
      int m = 0;
      for (Certificate ca : extra) {
        anchors.setCertificateEntry("trusted-ca-" + m++, ca);
      }
      TrustManagerFactory f =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      f.init(anchors);
      return x509(f.getTrustManagers());
    } catch (IOException e) {
      throw new IllegalStateException(setting + ": cannot read " + pem + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(
          setting + ": " + pem + " is not a PEM file of certificates: " + e.getMessage(), e);
    }
  }

  /** How many authorities {@code tm} trusts: for the startup log line. */
  public static int count(X509TrustManager tm) {
    return tm.getAcceptedIssuers().length;
  }

  private static X509TrustManager jvmDefault() throws GeneralSecurityException {
    TrustManagerFactory f =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    f.init((KeyStore) null);
    return x509(f.getTrustManagers());
  }

  private static X509TrustManager x509(TrustManager[] managers) {
    for (TrustManager m : managers) {
      if (m instanceof X509TrustManager x) {
        return x;
      }
    }
    throw new IllegalStateException("the JVM has no X.509 trust manager");
  }
}
