import { Code, Mark } from '@mantine/core';

/** Shows an example's text with trained runs (inside «…» in the report) highlighted. */
export function LabelView({ labels }: { labels: string }) {
  const parts = labels.split(/(«[^»]*»)/g).filter(Boolean);
  return (
    <Code block style={{ whiteSpace: 'pre-wrap' }}>
      {parts.map((part, i) =>
        part.startsWith('«') ? (
          <Mark key={i} color="green.2" data-trained>
            {part.slice(1, -1)}
          </Mark>
        ) : (
          <span key={i}>{part}</span>
        ),
      )}
    </Code>
  );
}
