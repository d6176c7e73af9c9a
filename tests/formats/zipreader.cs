// What .NET's System.IO.Compression (the connector installer's reader) sees in zip archives.
// Usage: mono zipreader.exe LISTFILE   (LISTFILE: one archive path per line, UTF-8)
// Output (UTF-8), per archive in order:
//   A <index>
//   E <base64 of the UTF-8 entry name> <length> <sha256 hex>    (one per entry, in .NET's order)
//   X <base64 of the exception message>                          (if .NET could not read it)
// Built by tests/formats/ziptools.py with mcs; compares with b2release's strict reader.
using System;
using System.IO;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

static class ZipReader
{
    static string B64(string s) { return Convert.ToBase64String(new UTF8Encoding(false).GetBytes(s)); }

    static string Hex(byte[] bytes)
    {
        var sb = new StringBuilder(bytes.Length * 2);
        foreach (var b in bytes) sb.Append(b.ToString("x2"));
        return sb.ToString();
    }

    static int Main(string[] args)
    {
        var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
        output.NewLine = "\n";
        var paths = File.ReadAllLines(args[0], new UTF8Encoding(false));
        for (int i = 0; i < paths.Length; i++)
        {
            output.WriteLine("A " + i);
            var lines = new StringBuilder();
            try
            {
                using (var zip = ZipFile.OpenRead(paths[i]))
                using (var sha = SHA256.Create())
                {
                    foreach (var entry in zip.Entries)
                    {
                        byte[] digest;
                        long length = 0;
                        using (var stream = entry.Open())
                        {
                            var buffer = new byte[1 << 16];
                            int read;
                            sha.Initialize();
                            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                            {
                                sha.TransformBlock(buffer, 0, read, null, 0);
                                length += read;
                            }
                            sha.TransformFinalBlock(buffer, 0, 0);
                            digest = sha.Hash;
                        }
                        lines.Append("E " + B64(entry.FullName) + " " + length + " " + Hex(digest) + "\n");
                    }
                }
                output.Write(lines.ToString());
            }
            catch (Exception e)
            {
                output.WriteLine("X " + B64(e.GetType().Name + ": " + e.Message));
            }
        }
        output.Flush();
        return 0;
    }
}
