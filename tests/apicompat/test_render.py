"""Rendering: what the canonical API text says for each C# construct (csharp/Rendering.cs)
and for the IL-only encodings (il/Modifiers.il)."""

from __future__ import annotations

import pytest

from b2release.apicompat import parse_api_text, read_assembly
from b2release.apicompat.surface import render_decl_name

pytestmark = pytest.mark.mono


@pytest.fixture(scope="module")
def rendering_lines(rendering_dll) -> list[str]:
    return read_assembly(rendering_dll).surface.to_text().splitlines()


@pytest.fixture(scope="module")
def modifier_lines(modifiers_dll) -> list[str]:
    return read_assembly(modifiers_dll).surface.to_text().splitlines()


EXPECTED = {
    "header": "assembly Rendering",
    # generic types with constraints; interfaces sorted; explicit implementations not listed
    "generic type": "type public class Render.Repository<TKey, TValue> : object, "
                    "System.Collections.Generic.IEnumerable<System.Collections.Generic.KeyValuePair<TKey, TValue>>, "
                    "System.Collections.IEnumerable, System.IDisposable "
                    "where TKey : System.IComparable<TKey> where TValue : class, new()",
    "generic method, out": "member Render.Repository<TKey, TValue>: public bool TryGet<T>(string key, out T value) "
                           "where T : class",
    "generic method, ref, struct": "member Render.Repository<TKey, TValue>: public void Swap<T>(ref T a, ref T b) "
                                   "where T : struct",
    "indexer, protected setter": "member Render.Repository<TKey, TValue>: public TValue Item[TKey key] "
                                 "{ get; protected set; }",
    "variance": "type public interface Render.IReader<out T>",
    "contravariance": "type public interface Render.IWriter<in T>",
    "interface method": "member Render.IReader<T>: public T Read()",
    "interface property": "member Render.IReader<T>: public int Count { get; }",
    "interface event": "member Render.IReader<T>: public event System.EventHandler Changed",
    # nested types, also in generic types (the outer type's parameters stay on the outer level)
    "nested in generic": "type public class Render.Repository<TKey, TValue>+Node : object "
                         "where TKey : System.IComparable<TKey> where TValue : class, new()",
    "generic nested in generic": "member Render.Repository<TKey, TValue>+Page<TItem>: public TItem[] Items",
    "nested field": "member Render.Repository<TKey, TValue>+Node: public Render.Repository<TKey, TValue>+Node Next",
    "nested enum": "type public enum Render.Outer+Inner+Mode : int",
    "nested in signatures": "member Render.Everything: public void NestedGeneric("
                            "Render.Repository<string, Render.Everything>+Node node, "
                            "Render.Repository<int, Render.Everything>+Page<string> page, Render.Outer+Inner+Mode mode)",
    "protected nested": "type protected class Render.Outer+ProtectedNested : object",
    "protected internal nested": "type protected class Render.Outer+ProtectedInternalNested : object",
    # arrays: IL order (element type first), so C# int[][,] reads int[,][]
    "arrays": "member Render.Everything: public void Arrays(int[] vector, int[,] matrix, int[][] jagged, "
              "int[,][] mixed, string[,,] cube)",
    "nullables": "member Render.Everything: public void Nullables(int? a, System.DateTime? b, "
                 "System.Collections.Generic.List<int?> c)",
    "pointers": "member Render.Everything: public void Pointers(int* p, void* raw, byte** pp, char*[] arr)",
    "fixed buffer": "member Render.Buffer: public fixed byte[16] Data",
    "pointer field": "member Render.Buffer: public int* Cursor",
    "ref out params": "member Render.Everything: public void RefOut(ref int a, out string b, params int[] rest)",
    "params": "member Render.Extensions: public static void Log(string format, params object[] args)",
    "extension": "member Render.Extensions: public static int WordCount(this string text)",
    "varargs": "member Render.Everything: public void Variadic(int first, __arglist)",
    "defaults": "member Render.Everything: public void Defaults(int count = 5, string name = \"n\\\"ame\", "
                "object empty = null, Render.Color color = 2, bool enabled = true, double scale = 2.5, "
                "float ratio = 0.25f, long big = -1, char sep = ',', System.DateTime when = default, "
                "int? maybe = null, decimal amount = 1.50m, string nothing = null)",
    "complex generic return": "member Render.Everything: public System.Collections.Generic.Dictionary<string, "
                              "System.Collections.Generic.List<int[]>> Complex()",
    # constants and enums
    "const int": "member Render.Everything: public const int MaxItems = 100",
    "const long": "member Render.Everything: public const long Big = -9000000000",
    "const string": "member Render.Everything: public const string Greeting = "
                    "\"Hello, \\\"world\\\"\\n\\t\u00e9\\u0001\"",
    "const char": "member Render.Everything: public const char Letter = 'x'",
    "const double": "member Render.Everything: public const double Ratio = 0.1",
    "const float": "member Render.Everything: public const float Small = 1.5f",
    "const bool": "member Render.Everything: public const bool Flag = true",
    "const decimal": "member Render.Everything: public const decimal Price = 19.99m",
    "const enum": "member Render.Everything: public const Render.Color Favourite = 4",
    "const null": "member Render.Everything: public const string Nothing = null",
    "enum underlying": "type public enum Render.Color : byte",
    "enum member": "member Render.Color: public const Render.Color Blue = 4",
    "enum long": "member Render.Big: public const Render.Big Huge = 1099511627776",
    "enum negative": "member Render.Big: public const Render.Big Negative = -5",
    # fields
    "static field": "member Render.Everything: public static int Counter",
    "volatile": "member Render.Everything: public volatile int Ticks",
    "readonly field": "member Render.Point: public readonly int X",
    "static readonly": "member Render.Point: public static readonly Render.Point Origin",
    "protected internal field": "member Render.Shape: protected int Id",
    # events and properties
    "event": "member Render.Everything: public event System.EventHandler Changed",
    "custom event": "member Render.Everything: public event System.EventHandler<System.EventArgs> Custom",
    "get only": "member Render.Everything: public int ReadOnly { get; }",
    "set only": "member Render.Everything: public int WriteOnly { set; }",
    "static property": "member Render.Everything: public static string Shared { get; set; }",
    "protected setter": "member Render.Everything: public int ProtectedSetter { get; protected set; }",
    "protected property": "member Render.Shape: protected int Hidden { get; set; }",
    "abstract property": "member Render.Shape: public abstract double Area { get; }",
    "virtual property": "member Render.Shape: public virtual string Name { get; }",
    "override property": "member Render.Circle: public override double Area { get; }",
    # methods, constructors, modifiers
    "protected ctor": "member Render.Shape: protected Shape()",
    "ctor": "member Render.Circle: public Circle(double radius)",
    "abstract method": "member Render.Shape: public abstract void Draw()",
    "protected virtual": "member Render.Shape: protected virtual void OnDraw()",
    "sealed override": "member Render.Circle: public sealed override void Draw()",
    "override": "member Render.Circle: public override string ToString()",
    "protected method": "member Render.Everything: protected void ProtectedMethod()",
    "protected internal method": "member Render.Everything: protected void ProtectedInternalMethod()",
    "operator": "member Render.Point: public static Render.Point op_Addition(Render.Point a, Render.Point b)",
    "conversion int": "member Render.Point: public static int op_Implicit(Render.Point p)",
    "conversion long": "member Render.Point: public static long op_Implicit(Render.Point p)",
    "generic static": "member Render.Statics: public static T Identity<T>(T value)",
    # type kinds and modifiers
    "static class": "type public static class Render.Statics : object",
    "abstract class": "type public abstract class Render.Shape : object",
    "sealed class": "type public sealed class Render.Circle : Render.Shape",
    "struct": "type public struct Render.Point : System.IEquatable<Render.Point>",
    "readonly struct": "type public readonly struct Render.Money",
    "delegate": "type public delegate TResult Render.Converter<in T, out TResult>(T input)",
    "ref delegate": "type public delegate void Render.RefHandler(object sender, ref int counter)",
    # [Obsolete]
    "obsolete message": "member Render.Everything: [Obsolete(\"use Defaults\")] public void Old()",
    "obsolete plain": "member Render.Everything: [Obsolete] public void OldNoMessage()",
    "obsolete error": "member Render.Everything: [Obsolete(\"gone\", true)] public int Gone",
    "obsolete type": "type [Obsolete(\"old type\")] public class Render.Legacy : object",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rendering(rendering_lines, name):
    assert EXPECTED[name] in rendering_lines


ABSENT = [
    "InternalType", "NotVisible", "AlsoNotVisible", "+PrivateNested", "+InternalNested", "Invisible",
    " InternalMethod()", "PrivateMethod", "Render.Empty", "OnlyInternal",
    # compiler-generated: iterator and lambda classes, anonymous types, fixed-buffer structs
    "<>", "d__", "AnonymousType", "FixedBuffer",
    "IEnumerable.GetEnumerator", "Dispose",  # explicit interface implementations are private
    "get_", "set_", "add_", "remove_",  # accessors live inside their property or event line
    "Invoke", "BeginInvoke",  # a delegate is its type line
    "value__", ".cctor",
]


@pytest.mark.parametrize("needle", ABSENT)
def test_not_in_surface(rendering_lines, needle):
    assert not [line for line in rendering_lines if needle in line]


def test_compiler_generated_members_leave_their_methods(rendering_lines):
    # The methods that use compiler-generated classes are public API; the classes are not.
    assert "member Render.Everything: public System.Collections.Generic.IEnumerable<int> Iterator()" in rendering_lines
    assert "member Render.Everything: public System.Func<int> Lambda()" in rendering_lines
    assert not any(line.startswith("type") and "Render.Everything+" in line for line in rendering_lines)


def test_every_line_names_its_declaring_type(rendering_dll):
    surface = parse_api_text(read_assembly(rendering_dll).surface.to_text())
    declared = {t.display_name for t in surface.types}
    for member in surface.members:
        assert member.render().startswith(f"member {render_decl_name(member.declaring)}: ")
        assert render_decl_name(member.declaring) in declared, member.render()


def test_lines_are_sorted_by_type_then_member(rendering_lines):
    text = "\n".join(rendering_lines)
    assert rendering_lines[0] == "assembly Rendering"
    # A type line comes right before its members; types in key order.
    order = [line for line in rendering_lines if line.startswith("type ")]
    assert order.index("type public abstract class Render.Shape : object") > order.index(
        "type public class Render.Outer : object")
    assert text.index("type public sealed class Render.Circle") < text.index("member Render.Circle: public Circle(")


MODIFIERS_EXPECTED = [
    "member Mods.Sample: public virtual void WithIn(in int value)",  # modreq(InAttribute) + [IsReadOnly]
    "member Mods.Sample: public void WithInPlain(in int value)",  # [IsReadOnly] alone
    "member Mods.Sample: public virtual ref readonly int RefReadonly()",
    "member Mods.Sample: public string Name { get; init; }",  # modreq(IsExternalInit) on the setter
    "member Mods.Sample: public int modopt(System.Runtime.CompilerServices.IsLong) "
    "Native(int modopt(System.Runtime.CompilerServices.IsConst)* p)",
    "member Mods.Sample: public void Callbacks(delegate*<int, string, int> callback, "
    "delegate* unmanaged[Cdecl]<sbyte*, void> nativeCallback)",
    "member Mods.Sample: public void Bounded(int[1...5] a, int[-2...-3,0...3] b, int[*] c)",
    "member Mods.Sample: public void get(int 'in', string 'ref')",  # names equal to keywords are quoted
    "member Mods.Sample: public void 'odd name'()",
    "member Mods.Sample: [Obsolete(null, true)] public void Forbidden()",
]


@pytest.mark.parametrize("line", MODIFIERS_EXPECTED)
def test_il_only_encodings(modifier_lines, line):
    assert line in modifier_lines


def test_public_compiler_generated_type_is_excluded(modifier_lines):
    assert not [line for line in modifier_lines if "Generated" in line or "IsExternalInit" in line and "type" in line]
