package transfer.api.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;

class SchemaDocsTest {

  @Test
  void durationsReadAsPeopleWriteThem() {
    assertThat(SchemaDocs.iso(Duration.ofDays(7))).isEqualTo("P7D");
    assertThat(SchemaDocs.iso(Duration.ofSeconds(60))).isEqualTo("PT1M");
    assertThat(SchemaDocs.iso(Duration.ofMinutes(5))).isEqualTo("PT5M");
    assertThat(SchemaDocs.iso(Duration.ofHours(36))).isEqualTo("PT36H");
  }

  @Test
  void everyErrorCodeIsDocumented() throws IllegalAccessException {
    String codes = SchemaDocs.FIELDS.get("TaskError").get("code");
    for (Field f : ErrorCodes.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
        assertThat(codes).contains((String) f.get(null));
      }
    }
  }
}
