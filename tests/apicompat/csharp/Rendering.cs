// Every rendering case the API text format must cover (tests/apicompat/test_render.py).
// Compiled with: mcs -target:library -unsafe -langversion:experimental
using System;
using System.Collections;
using System.Collections.Generic;

namespace Render
{
    public enum Color : byte { Red = 1, Green = 2, Blue = 4 }

    [Flags]
    public enum Big : long { None = 0, Huge = 1L << 40, Negative = -5 }

    public interface IReader<out T> { T Read(); int Count { get; } event EventHandler Changed; }

    public interface IWriter<in T> { void Write(T item); }

    public delegate TResult Converter<in T, out TResult>(T input);

    public delegate void RefHandler(object sender, ref int counter);

    public static class Extensions
    {
        public static int WordCount(this string text) { return 0; }
        public static void Log(string format, params object[] args) { }
    }

    public abstract class Shape
    {
        protected Shape() { }
        public abstract double Area { get; }
        public virtual string Name { get { return "shape"; } }
        protected internal int Id;
        protected int Hidden { get; set; }
        internal int NotVisible;
        private protected int AlsoNotVisible;
        public abstract void Draw();
        protected virtual void OnDraw() { }
    }

    public sealed class Circle : Shape
    {
        public Circle(double radius) { }
        public override double Area { get { return 0; } }
        public sealed override void Draw() { }
        public override string ToString() { return "circle"; }
    }

    public class Repository<TKey, TValue> : IEnumerable<KeyValuePair<TKey, TValue>>, IDisposable
        where TKey : IComparable<TKey>
        where TValue : class, new()
    {
        public bool TryGet<T>(string key, out T value) where T : class { value = null; return false; }
        public void Swap<T>(ref T a, ref T b) where T : struct { }
        public TValue this[TKey key] { get { return null; } protected set { } }
        public IEnumerator<KeyValuePair<TKey, TValue>> GetEnumerator() { yield break; }
        IEnumerator IEnumerable.GetEnumerator() { return GetEnumerator(); }
        void IDisposable.Dispose() { }

        public class Node
        {
            public TKey Key;
            public Node Next;
        }

        public class Page<TItem>
        {
            public TItem[] Items;
            public TKey First;
        }
    }

    public class Outer
    {
        public class Inner
        {
            public enum Mode { Fast, Slow }
        }
        protected class ProtectedNested { }
        protected internal class ProtectedInternalNested { }
        private class PrivateNested { public int Invisible; }
        internal class InternalNested { }
    }

    public struct Point : IEquatable<Point>
    {
        public readonly int X;
        public static readonly Point Origin;
        public Point(int x) { X = x; }
        public bool Equals(Point other) { return X == other.X; }
        public static Point operator +(Point a, Point b) { return a; }
        public static implicit operator int(Point p) { return p.X; }
        public static implicit operator long(Point p) { return p.X; }
        public static explicit operator Point(int x) { return new Point(x); }
    }

    public readonly struct Money
    {
        public readonly decimal Amount;
        public Money(decimal amount) { Amount = amount; }
    }

    public unsafe struct Buffer
    {
        public fixed byte Data[16];
        public int* Cursor;
    }

    public class Everything
    {
        public const int MaxItems = 100;
        public const long Big = -9000000000L;
        public const string Greeting = "Hello, \"world\"\n\t\u00e9\u0001";
        public const char Letter = 'x';
        public const double Ratio = 0.1;
        public const float Small = 1.5f;
        public const bool Flag = true;
        public const decimal Price = 19.99m;
        public const Color Favourite = Color.Blue;
        public const string Nothing = null;
        public static int Counter;
        public volatile int Ticks;
        public event EventHandler Changed;
        public event EventHandler<EventArgs> Custom { add { } remove { } }

        public int ReadOnly { get { return 0; } }
        public int WriteOnly { set { } }
        public static string Shared { get; set; }
        public int ProtectedSetter { get; protected set; }

        public void Defaults(int count = 5, string name = "n\"ame", object empty = null, Color color = Color.Green,
                             bool enabled = true, double scale = 2.5, float ratio = 0.25f, long big = -1,
                             char sep = ',', DateTime when = default(DateTime), int? maybe = null,
                             decimal amount = 1.50m, string nothing = null) { }
        public void Arrays(int[] vector, int[,] matrix, int[][] jagged, int[][,] mixed, string[,,] cube) { }
        public void Nullables(int? a, DateTime? b, List<int?> c) { }
        public unsafe void Pointers(int* p, void* raw, byte** pp, char*[] arr) { }
        public void RefOut(ref int a, out string b, params int[] rest) { b = null; }
        public void NestedGeneric(Repository<string, Everything>.Node node, Repository<int, Everything>.Page<string> page,
                                  Outer.Inner.Mode mode) { }
        public Dictionary<string, List<int[]>> Complex() { return null; }
        public void Variadic(int first, __arglist) { }

        [Obsolete("use Defaults")] public void Old() { }
        [Obsolete] public void OldNoMessage() { }
        [Obsolete("gone", true)] public int Gone;

        public IEnumerable<int> Iterator() { yield return 1; }
        public Func<int> Lambda() { return () => 1; }
        public object Anonymous() { return new { A = 1 }; }

        protected void ProtectedMethod() { }
        protected internal void ProtectedInternalMethod() { }
        internal void InternalMethod() { }
        private void PrivateMethod() { }
    }

    public static class Statics
    {
        public static readonly string Version = "1";
        public static T Identity<T>(T value) { return value; }
    }

    [Obsolete("old type")]
    public class Legacy { }

    internal class InternalType { public void Invisible() { } }
}

namespace Render.Empty
{
    internal class OnlyInternal { }
}
