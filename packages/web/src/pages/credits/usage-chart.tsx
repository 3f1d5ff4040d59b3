import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

/** Loaded on demand (recharts is heavy): only the credits page pays for it. */
export default function UsageChart({
  rows,
  label,
  rightToLeft,
}: {
  rows: Array<{ group: string; credits: number }>;
  label: string;
  rightToLeft: boolean;
}) {
  return (
    <div className="h-64 w-full" dir="ltr">
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={rows} accessibilityLayer>
          <CartesianGrid strokeDasharray="3 3" stroke="#cbd5e1" />
          <XAxis dataKey="group" reversed={rightToLeft} tick={{ fontSize: 12 }} />
          <YAxis orientation={rightToLeft ? 'right' : 'left'} tick={{ fontSize: 12 }} />
          <Tooltip />
          <Bar dataKey="credits" name={label} fill="#4f46e5" />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
