package transfer.api;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.Test;

/**
 * The api-service's packages depend on each other without a cycle: a feature may use another
 * feature or a shared package ({@code request}, {@code problem}), never both ways. Read from the
 * compiled main classes, so a reference counts however it is written (an import or a fully
 * qualified name); only a constant the compiler inlined leaves no trace there.
 */
class PackageCyclesTest {
  private static final String ROOT = "transfer.api";

  /** Each class belongs to the package right below transfer.api; the root package is one too. */
  private static final SliceAssignment FIRST_LEVEL_PACKAGES =
      new SliceAssignment() {
        @Override
        public SliceIdentifier getIdentifierOf(JavaClass c) {
          String pkg = c.getPackageName();
          if (pkg.equals(ROOT)) {
            return SliceIdentifier.of(ROOT);
          }
          if (!pkg.startsWith(ROOT + ".")) {
            return SliceIdentifier.ignore();
          }
          String rest = pkg.substring(ROOT.length() + 1);
          int dot = rest.indexOf('.');
          return SliceIdentifier.of(ROOT + "." + (dot < 0 ? rest : rest.substring(0, dot)));
        }

        @Override
        public String getDescription() {
          return "the packages right below " + ROOT;
        }
      };

  @Test
  void mainCodeHasNoPackageCycle() {
    JavaClasses main =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages(ROOT);
    // Not vacuous: the main classes were found (a class of a feature package and of the root).
    assertThat(main.contain(transfer.api.task.TaskResource.class)).isTrue();
    assertThat(main.contain(ApiConfig.class)).isTrue();
    assertThat(main.contain(PackageCyclesTest.class)).isFalse();

    slices().assignedFrom(FIRST_LEVEL_PACKAGES).should().beFreeOfCycles().check(main);
  }
}
