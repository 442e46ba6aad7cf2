package transfer.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import transfer.egress.EgressPolicy.Verdict;

/**
 * The guard's decisions for docs/TESTING.md's SSRF catalogue. Nothing here connects anywhere: every
 * non-loopback range is judged by the deciding functions only.
 */
class EgressPolicyTest {
  private final EgressPolicy strict = EgressPolicy.strict();

  /** Every spelling of a special address in a URL is refused before any resolution. */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://127.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://0x7f000001/",
        "http://0x7f.0.0.1/",
        "http://0177.0.0.1/",
        "http://2130706433/",
        "http://017700000001/",
        "http://127.0.0.1./",
        "http://0.0.0.0/",
        "http://0/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://[::ffff:169.254.169.254]/",
        "http://10.0.0.1/",
        "http://10.255.255.255/",
        "http://012.1/",
        "http://172.16.0.1/",
        "http://172.31.255.254/",
        "http://192.168.1.1/",
        "http://192.168.0.1:8080/",
        "http://100.64.0.1/",
        "http://100.127.255.255/",
        "http://192.0.0.8/",
        "http://198.18.0.1/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://[fc00::1]/",
        "http://[fd12:3456:789a::1]/",
        "http://[fe80::1]/",
        "http://[febf::1]/",
        "http://[ff02::1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::10.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b:1::1]/",
        "http://[2002:7f00:1::]/",
        "http://[2002:c0a8:101::1]/",
        "http://[2001::1]/",
        "http://[2001:db8::1]/",
        "https://127.0.0.1/",
      })
  void specialAddressesAreRefusedInEverySpelling(String url) {
    assertThat(strict.judge(Destination.of(url))).isInstanceOf(Verdict.Refuse.class);
  }

  @Test
  void theRefusalSaysWhatAndHowToAllowIt() {
    Verdict v = strict.judge(Destination.of("http://0x7f000001:8081/x"));
    assertThat(((Verdict.Refuse) v).reason())
        .contains("127.0.0.1", "loopback")
        .contains("transfer.fetch.allowed-destinations=127.0.0.1:8081");
    Verdict m = strict.judge(Destination.of("http://[64:ff9b::a9fe:a9fe]/"));
    assertThat(((Verdict.Refuse) m).reason()).contains("NAT64", "169.254");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://93.184.215.14/",
        "https://8.8.8.8/",
        "http://1.1.1.1:8080/",
        "http://[2606:4700:4700::1111]/",
        "http://[64:ff9b::808:808]/", // NAT64 of a public address
        "http://[2002:808:808::1]/", // 6to4 of a public address
        "http://172.32.0.1/", // just outside 172.16/12
        "http://100.128.0.1/", // just outside 100.64/10
        "http://11.0.0.1/",
      })
  void publicAddressesOnAllowedPortsMayConnect(String url) {
    assertThat(strict.judge(Destination.of(url))).isInstanceOf(Verdict.Connect.class);
  }

  @Test
  void namesAreResolvedThenEveryAnswerIsJudged() throws Exception {
    Destination d = Destination.of("https://files.example.com/a");
    assertThat(strict.judge(d)).isEqualTo(new Verdict.Resolve(false));
    assertThat(strict.refusalOf(d, InetAddress.getByName("93.184.215.14"))).isEmpty();
    assertThat(strict.refusalOf(d, InetAddress.getByName("10.1.2.3")))
        .hasValueSatisfying(
            r -> assertThat(r).contains("files.example.com", "10.1.2.3", "private"));
    assertThat(strict.refusalOf(d, InetAddress.getByName("::1"))).isPresent();
  }

  @Test
  void portsOutsideTheAllowedSetAreRefused() {
    assertThat(strict.judge(Destination.of("http://93.184.215.14:22/")))
        .isInstanceOf(Verdict.Refuse.class);
    assertThat(strict.judge(Destination.of("http://files.example.com:6379/")))
        .isInstanceOf(Verdict.Refuse.class);
    EgressPolicy more = EgressPolicy.of(List.of(), List.of(80, 443, 9000));
    assertThat(more.judge(Destination.of("http://files.example.com:9000/")))
        .isEqualTo(new Verdict.Resolve(false));
  }

  @Test
  void operatorEntriesAllowExactlyWhatTheyName() throws Exception {
    EgressPolicy p =
        EgressPolicy.of(
            List.of(
                "127.0.0.1:8081", "10.0.0.0/8", "files.internal", ".corp.example", "[::1]:9000"),
            EgressPolicy.DEFAULT_PORTS);
    assertThat(p.judge(Destination.of("http://127.0.0.1:8081/")))
        .isInstanceOf(Verdict.Connect.class);
    // the same address in another spelling is the same address
    assertThat(p.judge(Destination.of("http://0x7f000001:8081/")))
        .isInstanceOf(Verdict.Connect.class);
    assertThat(p.judge(Destination.of("http://127.0.0.1:8082/")))
        .isInstanceOf(Verdict.Refuse.class);
    assertThat(p.judge(Destination.of("http://127.0.0.2:8081/")))
        .isInstanceOf(Verdict.Refuse.class);
    assertThat(p.judge(Destination.of("http://10.9.8.7:5000/")))
        .isInstanceOf(Verdict.Connect.class);
    assertThat(p.judge(Destination.of("http://[::1]:9000/"))).isInstanceOf(Verdict.Connect.class);
    assertThat(p.judge(Destination.of("http://[::1]:9001/"))).isInstanceOf(Verdict.Refuse.class);
    assertThat(p.judge(Destination.of("http://files.internal:7000/")))
        .isEqualTo(new Verdict.Resolve(true));
    assertThat(p.judge(Destination.of("http://a.corp.example/")))
        .isEqualTo(new Verdict.Resolve(true));
    assertThat(p.judge(Destination.of("http://corp.example.evil.com/")))
        .isEqualTo(new Verdict.Resolve(false));
    // a name that resolves into an allowed network may connect there
    Destination named = Destination.of("http://db.example.com:5000/");
    assertThat(p.refusalOf(named, InetAddress.getByName("10.0.0.5"))).isEmpty();
    assertThat(p.refusalOf(named, InetAddress.getByName("192.168.0.5"))).isPresent();
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.0/33", "[::1", "files.internal:0", "a b", "1.2.3.4.5", "x:y"})
  void badEntriesAreRefusedAtStartupNamingThem(String entry) {
    assertThatThrownBy(() -> EgressPolicy.of(List.of(entry), EgressPolicy.DEFAULT_PORTS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("allowed-destinations")
        .hasMessageContaining(entry.trim());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://example.com/",
        "jar:http://example.com/a.jar!/",
        "http:///nohost",
        "http://1.2.3.4.5/",
        "http://256.1.1.1/",
        "http://0x100000000/",
        "http://[fe80::1%25eth0]/",
        "http://[::g]/",
        "http://example.com:0/",
      })
  void malformedDestinationsAreErrorsNotRefusals(String url) {
    assertThatThrownBy(() -> Destination.of(url)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ipv4SpellingsAreParsedAsUrlParsersDo() throws Exception {
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    for (String h :
        List.of("127.1", "0x7f000001", "2130706433", "017700000001", "0x7f.1", "127.0.0.1.")) {
      assertThat(Destination.of("http://" + h + "/").address()).as(h).isEqualTo(loopback);
    }
    // "0x" alone is hex with no digits, 0: a URL parser reads 1.0x as 1.0.0.0, not as a name
    assertThat(Destination.of("http://1.0x/").address())
        .isEqualTo(InetAddress.getByName("1.0.0.0"));
    assertThat(Destination.of("http://example.com/").isName()).isTrue();
    assertThat(Destination.of("http://1e100.net/").isName()).isTrue();
  }
}
